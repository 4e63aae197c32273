/* test-tracker.c: the stop reason, armed thresholds and the resync, with
 * no socket
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The tracker is fed QEMU's messages and the answers to its questions by
 * hand, and tells what it makes of them through hooks this test records:
 * every stop-reason and derived-event case of test-resync, and QEMU 7.2's
 * and 10.0's recorded traffic replayed, in microseconds.
 */

#include <qmpthin/qmpthin.h>

#include "qmp-errors-private.h"
#include "qmp-message.h"
#include "qmp-models-private.h"
#include "qmp-test-util.h"
#include "qmp-tracker.h"

#define RUNNING_STATUS "{\"status\": \"running\", \"running\": true}"
#define IO_ERROR_STATUS "{\"status\": \"io-error\", \"running\": false}"
#define PAUSED_STATUS "{\"status\": \"paused\", \"running\": false}"
#define PRELAUNCH_STATUS "{\"status\": \"prelaunch\", \"running\": false}"
/* query-block of a VM paused on a full data disk (QEMU 10.0, -blockdev). */
#define NOSPACE_BLOCKS \
  "[{\"io-status\": \"ok\", \"device\": \"\", \"qdev\": \"bootdisk\"," \
  " \"inserted\": {\"node-name\": \"boot-fmt\", \"write_threshold\": 0}}," \
  " {\"io-status\": \"nospace\", \"device\": \"\", \"qdev\": \"/machine/peripheral/datadisk/virtio-backend\"," \
  " \"inserted\": {\"node-name\": \"data-fmt\", \"write_threshold\": 0}}]"
#define OK_BLOCKS \
  "[{\"io-status\": \"ok\", \"device\": \"\", \"qdev\": \"/machine/peripheral/datadisk/virtio-backend\"," \
  " \"inserted\": {\"node-name\": \"data-fmt\", \"write_threshold\": 0}}]"
#define NOSPACE_DATA \
  "{\"device\": \"\", \"nospace\": true, \"node-name\": \"data-fmt\"," \
  " \"qom-path\": \"/machine/peripheral/datadisk/virtio-backend\"," \
  " \"reason\": \"No space left on device\", \"operation\": \"write\", \"action\": \"stop\"}"
#define EIO_DATA \
  "{\"device\": \"\", \"nospace\": false, \"node-name\": \"data-fmt\"," \
  " \"reason\": \"Input/output error\", \"operation\": \"write\", \"action\": \"stop\"}"
#define T0 G_GINT64_CONSTANT (1796397185000000)

/* A question the tracker asked QEMU, not answered yet. */
typedef struct {
  char *command;
  char *arguments;              /* JSON, nullable */
  gboolean resync;
  QmpTrackerReplyFunc reply;
  gpointer reply_data;
} Question;

/* Work the tracker put at its place in the wire order. */
typedef struct {
  QmpTrackerFunc func;
  gpointer data;
  GDestroyNotify data_free;
} Work;

typedef struct {
  QmpTracker *tracker;
  QmpMessageParser *parser;
  GQueue questions;             /* Question* */
  GQueue work;                  /* Work* */
  /* What the tracker told, in order: "reason KIND" (::stop-reason-changed),
   * "first KIND" (the first reason: no change), "derived NAME", "done",
   * "done changed", "failed". */
  GPtrArray *log;
  GPtrArray *derived;           /* QmpEvent: derived live and by the resyncs */
} Fixture;

static const char *
kind_nick (QmpStopReason *reason)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (QMP_TYPE_STOP_KIND);

  return g_enum_get_value (klass, qmp_stop_reason_get_kind (reason))->value_nick;
}

static void
hook_send (const char          *command,
           JsonObject          *arguments,
           gboolean             resync,
           QmpTrackerReplyFunc  reply,
           gpointer             reply_data,
           gpointer             user_data)
{
  Fixture *f = user_data;
  Question *question = g_new0 (Question, 1);

  question->command = g_strdup (command);
  if (arguments != NULL)
    {
      g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), arguments);

      question->arguments = json_to_string (node, FALSE);
    }
  question->resync = resync;
  question->reply = reply;
  question->reply_data = reply_data;
  g_queue_push_tail (&f->questions, question);
}

static void
hook_stop_reason_changed (QmpStopReason *reason,
                          gboolean       announce,
                          gpointer       user_data)
{
  Fixture *f = user_data;

  g_assert_true (reason == _qmp_tracker_get_stop_reason (f->tracker));
  g_ptr_array_add (f->log, g_strdup_printf ("%s %s", announce ? "reason" : "first", kind_nick (reason)));
}

static void
hook_derived_event (QmpEvent *event,
                    gpointer  user_data)
{
  Fixture *f = user_data;

  g_assert_true (qmp_event_get_derived (event));
  g_ptr_array_add (f->log, g_strdup_printf ("derived %s", qmp_event_get_name (event)));
  g_ptr_array_add (f->derived, g_object_ref (event));
}

static void
hook_in_order (QmpTrackerFunc  func,
               gpointer        data,
               GDestroyNotify  data_free,
               gpointer        user_data)
{
  Fixture *f = user_data;
  Work *work = g_new0 (Work, 1);

  work->func = func;
  work->data = data;
  work->data_free = data_free;
  g_queue_push_tail (&f->work, work);
}

static void
hook_resync_done (gboolean   reason_changed,
                  GPtrArray *derived,
                  gpointer   user_data)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->log, g_strdup (reason_changed ? "done changed" : "done"));
  if (reason_changed)
    g_ptr_array_add (f->log, g_strdup_printf ("reason %s", kind_nick (_qmp_tracker_get_stop_reason (f->tracker))));
  for (guint i = 0; i < derived->len; i++)
    {
      g_assert_true (qmp_event_get_derived (derived->pdata[i]));
      g_ptr_array_add (f->log, g_strdup_printf ("derived %s", qmp_event_get_name (derived->pdata[i])));
      g_ptr_array_add (f->derived, g_object_ref (derived->pdata[i]));
    }
}

static void
hook_resync_failed (GError   *error,
                    gpointer  user_data)
{
  Fixture *f = user_data;

  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_ptr_array_add (f->log, g_strdup ("failed"));
  g_error_free (error);
}

static const QmpTrackerHooks hooks = {
  .send = hook_send,
  .stop_reason_changed = hook_stop_reason_changed,
  .derived_event = hook_derived_event,
  .in_order = hook_in_order,
  .resync_done = hook_resync_done,
  .resync_failed = hook_resync_failed,
};

static void
question_free (Question *question)
{
  g_free (question->command);
  g_free (question->arguments);
  g_free (question);
}

static void
setup (Fixture       *f,
       gconstpointer  data)
{
  f->tracker = _qmp_tracker_new ("test", &hooks, f);
  f->parser = _qmp_message_parser_new ();
  g_queue_init (&f->questions);
  g_queue_init (&f->work);
  f->log = g_ptr_array_new_with_free_func (g_free);
  f->derived = g_ptr_array_new_with_free_func (g_object_unref);
}

static void
teardown (Fixture       *f,
          gconstpointer  data)
{
  /* Every question was answered, all work done. */
  g_assert_cmpuint (f->questions.length, ==, 0);
  g_assert_cmpuint (f->work.length, ==, 0);
  _qmp_tracker_unref (f->tracker);
  _qmp_message_parser_free (f->parser);
  g_ptr_array_unref (f->log);
  g_ptr_array_unref (f->derived);
}

/* The log so far is @expected (NULL-terminated); it is emptied. */
static void
assert_log (Fixture     *f,
            const char **expected)
{
  guint n = g_strv_length ((char **) expected);

  for (guint i = 0; i < MAX (n, f->log->len); i++)
    if (i >= n || i >= f->log->len || !g_str_equal (expected[i], f->log->pdata[i]))
      {
        for (guint j = 0; j < f->log->len; j++)
          g_test_message ("log %u: %s", j, (const char *) f->log->pdata[j]);
        g_assert_cmpstr (i < f->log->len ? f->log->pdata[i] : "(nothing)", ==,
                         i < n ? expected[i] : "(nothing)");
      }
  g_ptr_array_set_size (f->log, 0);
}

#define ASSERT_LOG(f, ...) \
  G_STMT_START { \
    const char *expected_[] = { __VA_ARGS__, NULL }; \
    assert_log ((f), expected_); \
  } G_STMT_END

#define ASSERT_LOG_EMPTY(f) g_assert_cmpuint ((f)->log->len, ==, 0)

static QmpStopKind
current_kind (Fixture *f)
{
  return qmp_stop_reason_get_kind (_qmp_tracker_get_stop_reason (f->tracker));
}

/* The oldest question, which must be @command (asked during a resync or
 * not, as @resync says). */
static Question *
next_question (Fixture    *f,
               const char *command,
               gboolean    resync)
{
  Question *question = g_queue_pop_head (&f->questions);

  g_assert_nonnull (question);
  g_assert_cmpstr (question->command, ==, command);
  g_assert_cmpint (question->resync, ==, resync);
  return question;
}

/* QEMU answers @command with the return value @json. */
static void
answer (Fixture    *f,
        const char *command,
        gboolean    resync,
        const char *json)
{
  Question *question = next_question (f, command, resync);
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = json_from_string (json, &error);

  g_assert_no_error (error);
  json_node_seal (value);
  question->reply (f->tracker, value, NULL, question->reply_data);
  question_free (question);
}

/* QEMU refuses @command with an error of @class_name. */
static void
refuse (Fixture    *f,
        const char *command,
        gboolean    resync,
        const char *class_name)
{
  Question *question = next_question (f, command, resync);
  g_autoptr(GError) error = _qmp_command_error_new (class_name, "refused");

  question->reply (f->tracker, NULL, error, question->reply_data);
  question_free (question);
}

/* The connection ends before @command is answered. */
static void
lose (Fixture    *f,
      const char *command,
      gboolean    resync)
{
  Question *question = next_question (f, command, resync);
  g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, "gone");

  question->reply (f->tracker, NULL, error, question->reply_data);
  question_free (question);
}

static void
run_work (Fixture *f)
{
  Work *work;

  while ((work = g_queue_pop_head (&f->work)) != NULL)
    {
      work->func (work->data);
      if (work->data_free != NULL)
        work->data_free (work->data);
      g_free (work);
    }
}

/* QEMU's event @name, sent at @usec (QEMU's clock), with @data (JSON). */
static void
event_at (Fixture    *f,
          const char *name,
          gint64      usec,
          const char *data)
{
  g_autoptr(JsonObject) object = NULL;
  g_autoptr(QmpEvent) event = NULL;

  if (data != NULL)
    {
      g_autoptr(JsonNode) node = json_from_string (data, NULL);

      object = json_node_dup_object (node);
    }
  event = _qmp_event_new_full (name, usec, object, FALSE);
  _qmp_tracker_event (f->tracker, event);
}

static void
event (Fixture    *f,
       const char *name,
       const char *data)
{
  event_at (f, name, g_get_real_time (), data);
}

/* A whole resync: QEMU's run state (@status, NULL: no query-status), and
 * the answers to query-block and query-named-block-nodes, which must be
 * asked exactly when an answer is given. */
static void
resync (Fixture    *f,
        gboolean    new_instance,
        const char *status,
        const char *blocks,
        const char *nodes)
{
  _qmp_tracker_resync_begin (f->tracker, new_instance);
  if (status != NULL)
    answer (f, "query-status", TRUE, status);
  else
    refuse (f, "query-status", TRUE, "CommandNotFound");
  _qmp_tracker_resync_run (f->tracker);
  if (blocks != NULL)
    answer (f, "query-block", TRUE, blocks);
  if (nodes != NULL)
    {
      g_assert_cmpstr (((Question *) g_queue_peek_head (&f->questions))->arguments, ==, "{\"flat\":true}");
      answer (f, "query-named-block-nodes", TRUE, nodes);
    }
  g_assert_cmpuint (f->questions.length, ==, 0);
}

/* ------------------------------------------------------------------------ */
/* The resync */

/* A storage daemon: no run state. */
static void
test_resync_not_applicable (Fixture       *f,
                            gconstpointer  data)
{
  g_assert_null (_qmp_tracker_get_stop_reason (f->tracker));
  resync (f, FALSE, NULL, NULL, NULL);
  ASSERT_LOG (f, "first not-applicable", "done");
  g_assert_false (qmp_stop_reason_is_paused (_qmp_tracker_get_stop_reason (f->tracker)));
}

static void
test_resync_running (Fixture       *f,
                     gconstpointer  data)
{
  QmpStopReason *reason;

  resync (f, FALSE, RUNNING_STATUS, NULL, NULL);
  ASSERT_LOG (f, "first running", "done");
  reason = _qmp_tracker_get_stop_reason (f->tracker);
  g_assert_cmpint (qmp_stop_reason_get_run_state (reason), ==, QMP_RUN_STATE_RUNNING);
  g_assert_true (qmp_stop_reason_get_derived (reason));
  g_assert_cmpint (qmp_stop_reason_get_since_usec (reason), ==, -1);
}

/* query-status goes out with qmp_capabilities; a server that answers it
 * before the negotiation leaves the resync waiting for it. */
static void
test_resync_status_first (Fixture       *f,
                          gconstpointer  data)
{
  _qmp_tracker_resync_begin (f->tracker, FALSE);
  answer (f, "query-status", TRUE, PAUSED_STATUS);
  /* Nothing asked, nothing decided before the negotiation ends. */
  g_assert_cmpuint (f->questions.length, ==, 0);
  ASSERT_LOG_EMPTY (f);
  _qmp_tracker_resync_run (f->tracker);
  answer (f, "query-block", TRUE, OK_BLOCKS);
  ASSERT_LOG (f, "first paused-by-user", "done");
}

/* Connecting to a VM already paused on a full disk: the reason names the
 * disk, and a derived BLOCK_IO_ERROR says it. */
static void
test_resync_paused_nospace (Fixture       *f,
                            gconstpointer  data)
{
  QmpStopReason *reason;
  QmpBlockIoErrorEvent *error;

  resync (f, FALSE, IO_ERROR_STATUS, NOSPACE_BLOCKS, NULL);
  ASSERT_LOG (f, "first nospace", "done", "derived BLOCK_IO_ERROR");
  reason = _qmp_tracker_get_stop_reason (f->tracker);
  g_assert_cmpstr (qmp_stop_reason_get_run_state_string (reason), ==, "io-error");
  g_assert_true (qmp_stop_reason_get_derived (reason));
  g_assert_cmpint (qmp_stop_reason_get_since_usec (reason), ==, -1);
  g_assert_cmpuint (g_strv_length ((char **) qmp_stop_reason_get_node_names (reason)), ==, 1);
  g_assert_true (qmp_stop_reason_involves_disk (reason, "data-fmt"));
  g_assert_true (qmp_stop_reason_involves_disk (reason, "/machine/peripheral/datadisk/virtio-backend"));
  g_assert_false (qmp_stop_reason_involves_disk (reason, "boot-fmt"));

  error = QMP_BLOCK_IO_ERROR_EVENT (f->derived->pdata[0]);
  g_assert_true (qmp_block_io_error_event_get_nospace (error));
  g_assert_cmpint (qmp_block_io_error_event_get_action (error), ==, QMP_BLOCK_ERROR_ACTION_STOP);
  g_assert_cmpint (qmp_block_io_error_event_get_operation (error), ==, QMP_IO_OPERATION_UNKNOWN);
  g_assert_cmpstr (qmp_block_io_error_event_get_node_name (error), ==, "data-fmt");
  g_assert_cmpstr (qmp_block_io_error_event_get_qom_path (error), ==,
                   "/machine/peripheral/datadisk/virtio-backend");
}

/* io-status is stale once a pause ended (QEMU never resets it with
 * -blockdev): a VM that runs, or is paused by a user, derives no error. */
static void
test_resync_stale_io_status (Fixture       *f,
                             gconstpointer  data)
{
  resync (f, FALSE, PAUSED_STATUS, NOSPACE_BLOCKS, NULL);
  ASSERT_LOG (f, "first paused-by-user", "done");
  g_assert_cmpuint (f->derived->len, ==, 0);
}

/* Thresholds a restarted agent declares: one that reads 0 fired while it
 * was away, and is told once; one still armed stays remembered. */
static void
test_resync_thresholds (Fixture       *f,
                        gconstpointer  data)
{
  QmpWriteThresholdEvent *fired;

  _qmp_tracker_declare_threshold (f->tracker, "data-file", 1048576);
  _qmp_tracker_declare_threshold (f->tracker, "other-file", 4096);
  resync (f, FALSE, RUNNING_STATUS, NULL,
          "[{\"node-name\": \"data-file\", \"drv\": \"file\", \"write_threshold\": 0},"
          " {\"node-name\": \"other-file\", \"drv\": \"file\", \"write_threshold\": 4096}]");
  ASSERT_LOG (f, "first running", "done", "derived BLOCK_WRITE_THRESHOLD");
  fired = QMP_WRITE_THRESHOLD_EVENT (f->derived->pdata[0]);
  g_assert_cmpstr (qmp_write_threshold_event_get_node_name (fired), ==, "data-file");
  g_assert_cmpuint (qmp_write_threshold_event_get_write_threshold (fired), ==, 1048576);
  g_assert_cmpuint (qmp_write_threshold_event_get_amount_exceeded (fired), ==, QMP_AMOUNT_EXCEEDED_UNKNOWN);

  /* Told once; other-file is still asked about, and armed by someone else
   * at a new value meanwhile: that value is what fires later. */
  resync (f, FALSE, RUNNING_STATUS, NULL,
          "[{\"node-name\": \"other-file\", \"drv\": \"file\", \"write_threshold\": 8192}]");
  ASSERT_LOG (f, "done");
  resync (f, FALSE, RUNNING_STATUS, NULL,
          "[{\"node-name\": \"other-file\", \"drv\": \"file\", \"write_threshold\": 0}]");
  ASSERT_LOG (f, "done", "derived BLOCK_WRITE_THRESHOLD");
  fired = QMP_WRITE_THRESHOLD_EVENT (f->derived->pdata[1]);
  g_assert_cmpuint (qmp_write_threshold_event_get_write_threshold (fired), ==, 8192);

  /* Nothing armed any more: nothing asked. */
  resync (f, FALSE, RUNNING_STATUS, NULL, NULL);
  ASSERT_LOG (f, "done");
}

/* A new QEMU has none of the old one's thresholds: forgotten, not told as
 * fired; nor is the old QEMU's pause the caller's any more. */
static void
test_resync_new_instance (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(JsonObject) arguments = json_object_new ();
  QmpTrackedCommand *stop;

  resync (f, FALSE, RUNNING_STATUS, NULL, NULL);
  _qmp_tracker_declare_threshold (f->tracker, "data-file", 1048576);
  _qmp_tracker_connection_opened (f->tracker);
  stop = _qmp_tracker_command_sent (f->tracker, "stop", arguments);
  event (f, "STOP", NULL);
  _qmp_tracker_command_answered (stop, TRUE, TRUE);
  _qmp_tracker_command_free (stop);
  ASSERT_LOG (f, "first running", "done", "reason paused-by-user");

  /* The same QEMU: the pause is still the caller's. */
  _qmp_tracker_connection_closed (f->tracker);
  _qmp_tracker_connection_opened (f->tracker);
  resync (f, FALSE, PAUSED_STATUS, OK_BLOCKS,
          "[{\"node-name\": \"data-file\", \"write_threshold\": 1048576}]");
  ASSERT_LOG (f, "done");
  g_assert_cmpint (current_kind (f), ==, QMP_STOP_KIND_PAUSED_BY_USER);

  /* Another one, paused at start (prelaunch): nothing of the old one. */
  _qmp_tracker_connection_closed (f->tracker);
  _qmp_tracker_connection_opened (f->tracker);
  resync (f, TRUE, PRELAUNCH_STATUS, OK_BLOCKS, NULL);
  ASSERT_LOG (f, "done changed", "reason prelaunch");
  g_assert_cmpint (qmp_stop_reason_get_since_usec (_qmp_tracker_get_stop_reason (f->tracker)), ==, -1);
}

/* A pause seen live that goes on across a reconnection keeps its start,
 * and what was known of it: an EIO stays an EIO although io-status (stale
 * with -blockdev) still says nospace from an earlier pause. */
static void
test_resync_same_pause (Fixture       *f,
                        gconstpointer  data)
{
  QmpStopReason *reason;

  resync (f, FALSE, RUNNING_STATUS, NULL, NULL);
  event_at (f, "BLOCK_IO_ERROR", T0, EIO_DATA);
  event_at (f, "STOP", T0 + 10, NULL);
  ASSERT_LOG (f, "first running", "done", "reason io-error");
  reason = _qmp_tracker_get_stop_reason (f->tracker);

  _qmp_tracker_connection_closed (f->tracker);
  _qmp_tracker_connection_opened (f->tracker);
  resync (f, FALSE, IO_ERROR_STATUS, NOSPACE_BLOCKS, NULL);
  /* No news, but what the resync read. */
  ASSERT_LOG (f, "done", "derived BLOCK_IO_ERROR");
  g_assert_true (_qmp_tracker_get_stop_reason (f->tracker) == reason);
  g_assert_false (qmp_stop_reason_get_derived (reason));
  g_assert_cmpint (qmp_stop_reason_get_since_usec (reason), ==, T0 + 10);
  g_assert_false (qmp_block_io_error_event_get_nospace (f->derived->pdata[0]));

  /* A new client knows only io-status. */
  {
    g_autoptr(QmpTracker) fresh = _qmp_tracker_new ("fresh", &hooks, f);
    QmpTracker *mine = f->tracker;

    f->tracker = fresh;
    resync (f, FALSE, IO_ERROR_STATUS, NOSPACE_BLOCKS, NULL);
    ASSERT_LOG (f, "first nospace", "done", "derived BLOCK_IO_ERROR");
    f->tracker = mine;
  }
}

/* A reconnection that finds another state tells it (before the connect
 * completes: that is the client's business); the same state is no news. */
static void
test_resync_changed (Fixture       *f,
                     gconstpointer  data)
{
  resync (f, FALSE, RUNNING_STATUS, NULL, NULL);
  ASSERT_LOG (f, "first running", "done");
  resync (f, FALSE, RUNNING_STATUS, NULL, NULL);
  ASSERT_LOG (f, "done");
  resync (f, FALSE, IO_ERROR_STATUS, NOSPACE_BLOCKS, NULL);
  ASSERT_LOG (f, "done changed", "reason nospace", "derived BLOCK_IO_ERROR");
}

/* A connect that fails: the answers still to come change nothing, and
 * the next resync starts afresh. */
static void
test_resync_abort (Fixture       *f,
                   gconstpointer  data)
{
  _qmp_tracker_resync_begin (f->tracker, FALSE);
  _qmp_tracker_resync_abort (f->tracker);
  answer (f, "query-status", TRUE, IO_ERROR_STATUS);
  ASSERT_LOG_EMPTY (f);
  g_assert_null (_qmp_tracker_get_stop_reason (f->tracker));

  /* An abort while the second question is out. */
  _qmp_tracker_resync_begin (f->tracker, FALSE);
  answer (f, "query-status", TRUE, IO_ERROR_STATUS);
  _qmp_tracker_resync_run (f->tracker);
  _qmp_tracker_resync_abort (f->tracker);
  answer (f, "query-block", TRUE, NOSPACE_BLOCKS);
  ASSERT_LOG_EMPTY (f);

  /* A new resync while an old answer is still out: only the new one's
   * answers count. */
  _qmp_tracker_resync_begin (f->tracker, FALSE);
  _qmp_tracker_resync_begin (f->tracker, FALSE);
  answer (f, "query-status", TRUE, IO_ERROR_STATUS);
  answer (f, "query-status", TRUE, RUNNING_STATUS);
  _qmp_tracker_resync_run (f->tracker);
  ASSERT_LOG (f, "first running", "done");
}

/* The connection ends under the resync: it fails; QEMU refusing a
 * question does not (the server lacks it, an answer in itself). */
static void
test_resync_connection_lost (Fixture       *f,
                             gconstpointer  data)
{
  _qmp_tracker_resync_begin (f->tracker, FALSE);
  answer (f, "query-status", TRUE, IO_ERROR_STATUS);
  _qmp_tracker_resync_run (f->tracker);
  lose (f, "query-block", TRUE);
  ASSERT_LOG (f, "failed");
  g_assert_null (_qmp_tracker_get_stop_reason (f->tracker));

  _qmp_tracker_resync_begin (f->tracker, FALSE);
  answer (f, "query-status", TRUE, IO_ERROR_STATUS);
  _qmp_tracker_resync_run (f->tracker);
  refuse (f, "query-block", TRUE, "GenericError");
  ASSERT_LOG (f, "first io-error", "done");
}

/* ------------------------------------------------------------------------ */
/* Live events */

static void
start_running (Fixture *f)
{
  resync (f, FALSE, RUNNING_STATUS, NULL, NULL);
  ASSERT_LOG (f, "first running", "done");
  _qmp_tracker_connection_opened (f->tracker);
}

/* The error comes before its STOP (QEMU 7.2, or 10.0 outside the
 * throttle's window): the pause is explained at once. */
static void
test_live_nospace (Fixture       *f,
                   gconstpointer  data)
{
  QmpStopReason *reason;

  start_running (f);
  event_at (f, "BLOCK_IO_ERROR", T0 + 739874, NOSPACE_DATA);
  ASSERT_LOG_EMPTY (f);
  event_at (f, "STOP", T0 + 740152, NULL);
  ASSERT_LOG (f, "reason nospace");
  g_assert_cmpuint (f->questions.length, ==, 0);
  reason = _qmp_tracker_get_stop_reason (f->tracker);
  g_assert_cmpint (qmp_stop_reason_get_since_usec (reason), ==, T0 + 740152);
  g_assert_false (qmp_stop_reason_get_derived (reason));
  g_assert_cmpstr (qmp_stop_reason_get_node_names (reason)[0], ==, "data-fmt");

  /* More errors of the same pause: no news. */
  event_at (f, "BLOCK_IO_ERROR", T0 + 740200, NOSPACE_DATA);
  ASSERT_LOG_EMPTY (f);
  event_at (f, "RESUME", T0 + 800000, NULL);
  ASSERT_LOG (f, "reason running");
  g_assert_cmpint (qmp_stop_reason_get_since_usec (_qmp_tracker_get_stop_reason (f->tracker)), ==, -1);
}

/* QEMU 10.0 throttles BLOCK_IO_ERROR: a second ENOSPC pause within a
 * second comes as a STOP alone, its error a second later with an older
 * timestamp. The tracker asks QEMU at once; the late error only confirms. */
static void
test_live_throttled_error (Fixture       *f,
                           gconstpointer  data)
{
  QmpStopReason *reason;

  start_running (f);
  event_at (f, "BLOCK_IO_ERROR", T0 + 771988, NOSPACE_DATA);
  event_at (f, "STOP", T0 + 772747, NULL);
  event_at (f, "RESUME", T0 + 774085, NULL);
  ASSERT_LOG (f, "reason nospace", "reason running");

  event_at (f, "STOP", T0 + 779366, NULL);
  ASSERT_LOG (f, "reason unknown");
  /* Both questions in one write. */
  g_assert_cmpuint (f->questions.length, ==, 2);
  answer (f, "query-status", FALSE, IO_ERROR_STATUS);
  ASSERT_LOG_EMPTY (f);
  answer (f, "query-block", FALSE, NOSPACE_BLOCKS);
  ASSERT_LOG (f, "reason nospace", "derived BLOCK_IO_ERROR");
  reason = _qmp_tracker_get_stop_reason (f->tracker);
  g_assert_cmpint (qmp_stop_reason_get_since_usec (reason), ==, T0 + 779366);
  g_assert_false (qmp_stop_reason_get_derived (reason));
  g_assert_cmpuint (qmp_stop_reason_get_disks (reason)->len, ==, 1);

  /* The throttled error, late: the same pause, no news. */
  event_at (f, "BLOCK_IO_ERROR", T0 + 774858, NOSPACE_DATA);
  ASSERT_LOG_EMPTY (f);
  g_assert_true (_qmp_tracker_get_stop_reason (f->tracker) == reason);
}

/* The error of an unexplained STOP arrives before QEMU's answer: it
 * explains the pause at once, and the answer is no news. */
static void
test_live_error_before_answer (Fixture       *f,
                               gconstpointer  data)
{
  start_running (f);
  event_at (f, "STOP", T0 + 10, NULL);
  event_at (f, "BLOCK_IO_ERROR", T0 + 5, NOSPACE_DATA);
  ASSERT_LOG (f, "reason unknown", "reason nospace");
  answer (f, "query-status", FALSE, IO_ERROR_STATUS);
  answer (f, "query-block", FALSE, NOSPACE_BLOCKS);
  /* What io-status says is told as well; the pause is the one seen live. */
  ASSERT_LOG (f, "derived BLOCK_IO_ERROR");
  g_assert_cmpint (current_kind (f), ==, QMP_STOP_KIND_NOSPACE);
  g_assert_false (qmp_stop_reason_get_derived (_qmp_tracker_get_stop_reason (f->tracker)));
  g_assert_cmpint (qmp_stop_reason_get_since_usec (_qmp_tracker_get_stop_reason (f->tracker)), ==, T0 + 10);
  g_assert_cmpuint (qmp_stop_reason_get_disks (_qmp_tracker_get_stop_reason (f->tracker))->len, ==, 1);
}

/* An error sent late, past the RESUME that ended its pause, explains
 * nothing: a later STOP is asked about. */
static void
test_live_late_error_after_resume (Fixture       *f,
                                   gconstpointer  data)
{
  start_running (f);
  event_at (f, "STOP", T0 + 1000, NULL);
  answer (f, "query-status", FALSE, IO_ERROR_STATUS);
  answer (f, "query-block", FALSE, NOSPACE_BLOCKS);
  event_at (f, "RESUME", T0 + 2000, NULL);
  event_at (f, "BLOCK_IO_ERROR", T0 + 900, NOSPACE_DATA);
  ASSERT_LOG (f, "reason unknown", "reason nospace", "derived BLOCK_IO_ERROR", "reason running");

  /* Somebody else pauses the VM a minute later. */
  event_at (f, "STOP", T0 + 60000000, NULL);
  answer (f, "query-status", FALSE, PAUSED_STATUS);
  answer (f, "query-block", FALSE, OK_BLOCKS);
  ASSERT_LOG (f, "reason unknown", "reason paused-by-user");
}

/* QEMU's answer to an unexplained STOP comes after a RESUME: it describes
 * a pause that is over, and changes nothing. */
static void
test_live_outdated_answer (Fixture       *f,
                           gconstpointer  data)
{
  start_running (f);
  event (f, "STOP", NULL);
  event (f, "RESUME", NULL);
  answer (f, "query-status", FALSE, IO_ERROR_STATUS);
  answer (f, "query-block", FALSE, NOSPACE_BLOCKS);
  ASSERT_LOG (f, "reason unknown", "reason running");
  g_assert_cmpint (current_kind (f), ==, QMP_STOP_KIND_RUNNING);
}

/* A WATCHDOG or GUEST_PANICKED whose action did not pause the VM does not
 * explain a later STOP; one whose action pauses does, as a SHUTDOWN does;
 * each only for the STOP that follows it. */
static void
test_live_causes (Fixture       *f,
                  gconstpointer  data)
{
  start_running (f);
  event (f, "WATCHDOG", "{\"action\": \"reset\"}");
  event (f, "GUEST_PANICKED", "{\"action\": \"run\"}");
  event (f, "STOP", NULL);
  answer (f, "query-status", FALSE, PAUSED_STATUS);
  answer (f, "query-block", FALSE, OK_BLOCKS);
  event (f, "RESUME", NULL);
  ASSERT_LOG (f, "reason unknown", "reason paused-by-user", "reason running");

  event (f, "WATCHDOG", "{\"action\": \"pause\"}");
  event (f, "STOP", NULL);
  event (f, "RESUME", NULL);
  event (f, "GUEST_PANICKED", "{\"action\": \"pause\"}");
  event (f, "STOP", NULL);
  event (f, "RESUME", NULL);
  event (f, "SHUTDOWN", "{\"guest\": true, \"reason\": \"guest-shutdown\"}");
  event (f, "STOP", NULL);
  ASSERT_LOG (f, "reason watchdog", "reason running", "reason guest-panicked", "reason running",
              "reason shutdown");

  /* The cause was used up by its STOP. */
  event (f, "RESUME", NULL);
  event (f, "STOP", NULL);
  ASSERT_LOG (f, "reason running", "reason unknown");
  answer (f, "query-status", FALSE, PAUSED_STATUS);
  answer (f, "query-block", FALSE, OK_BLOCKS);
  ASSERT_LOG (f, "reason paused-by-user");

  event (f, "RESUME", NULL);
  event (f, "SUSPEND", NULL);
  ASSERT_LOG (f, "reason running", "reason suspended");
}

/* An error storm (QEMU 7.2 sends thousands a second with werror=report,
 * and errors go on until the VM stops) costs one remembered error per
 * disk; errors whose action is not stop explain no pause. */
static void
test_live_error_storm (Fixture       *f,
                       gconstpointer  data)
{
  start_running (f);
  for (guint i = 0; i < 10000; i++)
    event_at (f, "BLOCK_IO_ERROR", T0 + i,
              "{\"device\": \"\", \"node-name\": \"data-fmt\", \"reason\": \"No space left on device\","
              " \"operation\": \"write\", \"action\": \"report\"}");
  ASSERT_LOG_EMPTY (f);
  for (guint i = 0; i < 10000; i++)
    event_at (f, "BLOCK_IO_ERROR", T0 + 10000 + i, i % 2 ? NOSPACE_DATA : EIO_DATA);
  event_at (f, "STOP", T0 + 30000, NULL);
  ASSERT_LOG (f, "reason nospace");
  g_assert_cmpuint (qmp_stop_reason_get_disks (_qmp_tracker_get_stop_reason (f->tracker))->len, ==, 1);
}

/* ------------------------------------------------------------------------ */
/* The caller's stop */

static QmpTrackedCommand *
send_stop (Fixture *f)
{
  return _qmp_tracker_command_sent (f->tracker, "stop", NULL);
}

static void
answer_command (QmpTrackedCommand *command,
                gboolean           accepted,
                gboolean           in_order)
{
  _qmp_tracker_command_answered (command, accepted, in_order);
  _qmp_tracker_command_free (command);
}

/* QEMU pauses the VM while it runs the command: its STOP comes before the
 * reply, and is the caller's. */
static void
test_own_stop (Fixture       *f,
               gconstpointer  data)
{
  QmpTrackedCommand *stop;

  start_running (f);
  g_assert_null (_qmp_tracker_command_sent (f->tracker, "cont", NULL));
  stop = send_stop (f);
  g_assert_nonnull (stop);
  event (f, "STOP", NULL);
  answer_command (stop, TRUE, TRUE);
  ASSERT_LOG (f, "reason paused-by-user");
  g_assert_cmpuint (f->questions.length, ==, 0);

  /* Errors do not make it a disk's pause. */
  event (f, "BLOCK_IO_ERROR", NOSPACE_DATA);
  ASSERT_LOG_EMPTY (f);
  event (f, "RESUME", NULL);
  ASSERT_LOG (f, "reason running");
}

/* A stop sent to a VM already paused for lack of space: QEMU sends no
 * STOP and keeps io-error, but the pause is the caller's now. A _sync
 * stop's reply is handed over as soon as it is read: its effect waits for
 * its place in the wire order. */
static void
test_own_stop_on_paused (Fixture       *f,
                         gconstpointer  data)
{
  QmpStopReason *reason;

  start_running (f);
  event (f, "BLOCK_IO_ERROR", NOSPACE_DATA);
  event (f, "STOP", NULL);
  ASSERT_LOG (f, "reason nospace");

  answer_command (send_stop (f), TRUE, FALSE);
  ASSERT_LOG_EMPTY (f);
  g_assert_cmpuint (f->work.length, ==, 1);
  run_work (f);
  ASSERT_LOG (f, "reason paused-by-user");
  reason = _qmp_tracker_get_stop_reason (f->tracker);
  g_assert_cmpstr (qmp_stop_reason_get_run_state_string (reason), ==, "io-error");

  /* It stays the caller's across a reconnection to the same QEMU. */
  _qmp_tracker_connection_closed (f->tracker);
  _qmp_tracker_connection_opened (f->tracker);
  resync (f, FALSE, IO_ERROR_STATUS, NOSPACE_BLOCKS, NULL);
  ASSERT_LOG (f, "done", "derived BLOCK_IO_ERROR");
  g_assert_cmpint (current_kind (f), ==, QMP_STOP_KIND_PAUSED_BY_USER);
}

/* A stop QEMU refused, or that timed out or was cancelled, explains no
 * STOP; one of a connection that is gone neither, nor does its end touch
 * the stops of the next connection. */
static void
test_own_stop_not_done (Fixture       *f,
                        gconstpointer  data)
{
  QmpTrackedCommand *old_stop;
  QmpTrackedCommand *stop;

  start_running (f);
  answer_command (send_stop (f), FALSE, TRUE);
  _qmp_tracker_command_free (send_stop (f));
  event (f, "STOP", NULL);
  ASSERT_LOG (f, "reason unknown");
  answer (f, "query-status", FALSE, IO_ERROR_STATUS);
  answer (f, "query-block", FALSE, NOSPACE_BLOCKS);
  event (f, "RESUME", NULL);
  ASSERT_LOG (f, "reason nospace", "derived BLOCK_IO_ERROR", "reason running");

  /* A stop in flight when the connection ended, and one of the next
   * connection: the old one going changes nothing for the new one. */
  old_stop = send_stop (f);
  _qmp_tracker_connection_closed (f->tracker);
  _qmp_tracker_connection_opened (f->tracker);
  stop = send_stop (f);
  _qmp_tracker_command_free (old_stop);
  event (f, "STOP", NULL);
  answer_command (stop, TRUE, TRUE);
  ASSERT_LOG (f, "reason paused-by-user");
  event (f, "RESUME", NULL);
  ASSERT_LOG (f, "reason running");

  /* The acknowledgement of a stop sent on the previous connection, queued
   * before it ended, changes nothing. */
  event (f, "BLOCK_IO_ERROR", NOSPACE_DATA);
  event (f, "STOP", NULL);
  stop = send_stop (f);
  _qmp_tracker_command_answered (stop, TRUE, FALSE);
  _qmp_tracker_connection_closed (f->tracker);
  _qmp_tracker_connection_opened (f->tracker);
  run_work (f);
  _qmp_tracker_command_free (stop);
  ASSERT_LOG (f, "reason nospace");
  g_assert_cmpint (current_kind (f), ==, QMP_STOP_KIND_NOSPACE);
}

/* ------------------------------------------------------------------------ */
/* Thresholds */

static QmpTrackedCommand *
send_threshold (Fixture    *f,
                const char *node,
                gint64      threshold)
{
  g_autoptr(JsonObject) arguments = json_object_new ();

  json_object_set_string_member (arguments, "node-name", node);
  json_object_set_int_member (arguments, "write-threshold", threshold);
  return _qmp_tracker_command_sent (f->tracker, "block-set-write-threshold", arguments);
}

/* Armed through the caller's commands, once QEMU accepted them; a
 * threshold that fires live is forgotten, unless armed again since. */
static void
test_thresholds (Fixture       *f,
                 gconstpointer  data)
{
  start_running (f);
  answer_command (send_threshold (f, "a", 100), TRUE, TRUE);
  answer_command (send_threshold (f, "b", 200), TRUE, FALSE);
  answer_command (send_threshold (f, "c", 300), FALSE, TRUE);
  answer_command (send_threshold (f, "d", 400), TRUE, TRUE);
  answer_command (send_threshold (f, "d", 0), TRUE, TRUE);
  g_assert_null (send_threshold (f, "e", -1));
  /* a fires; b was armed again before its event was delivered. */
  event (f, "BLOCK_WRITE_THRESHOLD", "{\"node-name\": \"a\", \"write-threshold\": 100, \"amount-exceeded\": 5}");
  answer_command (send_threshold (f, "b", 250), TRUE, TRUE);
  event (f, "BLOCK_WRITE_THRESHOLD", "{\"node-name\": \"b\", \"write-threshold\": 200, \"amount-exceeded\": 5}");
  ASSERT_LOG_EMPTY (f);

  /* Only b is asked about, and told when it reads 0. */
  resync (f, FALSE, RUNNING_STATUS, NULL,
          "[{\"node-name\": \"a\", \"write_threshold\": 0}, {\"node-name\": \"b\", \"write_threshold\": 0},"
          " {\"node-name\": \"c\", \"write_threshold\": 0}, {\"node-name\": \"d\", \"write_threshold\": 0}]");
  ASSERT_LOG (f, "done", "derived BLOCK_WRITE_THRESHOLD");
  g_assert_cmpstr (qmp_write_threshold_event_get_node_name (f->derived->pdata[0]), ==, "b");
  g_assert_cmpuint (qmp_write_threshold_event_get_write_threshold (f->derived->pdata[0]), ==, 250);
}

/* The client is gone: answers still in flight are dropped. */
static void
test_detached (Fixture       *f,
               gconstpointer  data)
{
  QmpTrackedCommand *stop;

  start_running (f);
  event (f, "STOP", NULL);
  stop = send_stop (f);
  _qmp_tracker_resync_begin (f->tracker, FALSE);
  ASSERT_LOG (f, "reason unknown");
  _qmp_tracker_detach (f->tracker);
  answer (f, "query-status", FALSE, IO_ERROR_STATUS);
  answer (f, "query-block", FALSE, NOSPACE_BLOCKS);
  answer (f, "query-status", TRUE, IO_ERROR_STATUS);
  answer_command (stop, TRUE, FALSE);
  ASSERT_LOG_EMPTY (f);
  g_assert_cmpuint (f->work.length, ==, 0);
}

/* ------------------------------------------------------------------------ */
/* QEMU's recorded traffic */

/* Replays a transcript: the caller's commands and QEMU's replies and
 * events, in wire order. Questions of the tracker are answered with a VM
 * paused on a full disk, which is what QEMU said whenever it was asked
 * (c1-14 of both recordings). */
static void
replay (Fixture    *f,
        const char *name)
{
  g_autoptr(GPtrArray) records = qmp_test_load_transcript (name);
  g_autoptr(GHashTable) sent = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < records->len; i++)
    {
      QmpTestRecord *record = records->pdata[i];
      g_autoptr(GError) error = NULL;

      if (record->sent)
        {
          g_autoptr(JsonNode) node = json_from_string (record->raw, &error);
          JsonObject *request;
          QmpTrackedCommand *tracked;

          g_assert_no_error (error);
          request = json_node_get_object (node);
          tracked = _qmp_tracker_command_sent (f->tracker, json_object_get_string_member (request, "execute"),
                                               json_object_has_member (request, "arguments")
                                               ? json_object_get_object_member (request, "arguments") : NULL);
          if (tracked != NULL)
            g_hash_table_insert (sent, g_strdup (json_object_get_string_member (request, "id")), tracked);
        }
      else
        {
          g_autoptr(QmpMessage) message = _qmp_message_parser_parse (f->parser, record->raw,
                                                                      strlen (record->raw) - 2, &error);

          g_assert_no_error (error);
          if (message->kind == QMP_MESSAGE_EVENT)
            {
              g_autoptr(QmpEvent) live = _qmp_event_new_full (message->event_name, message->timestamp_usec,
                                                              message->event_data, FALSE);

              _qmp_tracker_event (f->tracker, live);
            }
          else if (message->kind == QMP_MESSAGE_RETURN || message->kind == QMP_MESSAGE_ERROR)
            {
              QmpTrackedCommand *tracked = NULL;
              g_autofree char *id = NULL;

              if (g_hash_table_steal_extended (sent, json_node_get_string (message->id), (gpointer *) &id,
                                               (gpointer *) &tracked))
                answer_command (tracked, message->kind == QMP_MESSAGE_RETURN, TRUE);
            }
        }
      while (f->questions.length > 0)
        {
          answer (f, "query-status", FALSE, IO_ERROR_STATUS);
          answer (f, "query-block", FALSE, NOSPACE_BLOCKS);
        }
    }
  g_assert_cmpuint (g_hash_table_size (sent), ==, 0);
}

/* QEMU 7.2 sends every error before its STOP: each pause is explained at
 * once, nothing is asked. Both thresholds fired and are forgotten. */
static void
test_replay_7_2 (Fixture       *f,
                 gconstpointer  data)
{
  start_running (f);
  replay (f, "s4_extend_resume-tcg-virtio.jsonl");
  ASSERT_LOG (f, "reason nospace", "reason running",
              "reason nospace", "reason running",
              "reason nospace", "reason running");
  resync (f, FALSE, RUNNING_STATUS, NULL, NULL);
  ASSERT_LOG (f, "done");
}

/* QEMU 10.0 throttles: the second pause and the last one come as a STOP
 * alone (the last one's error follows it, within the pause), and QEMU is
 * asked. */
static void
test_replay_10_0 (Fixture       *f,
                  gconstpointer  data)
{
  start_running (f);
  replay (f, "qemu-10.0/s4_extend_resume.jsonl");
  ASSERT_LOG (f, "reason nospace", "reason running",
              "reason unknown", "reason nospace", "derived BLOCK_IO_ERROR", "reason running",
              "reason unknown", "reason nospace", "derived BLOCK_IO_ERROR", "reason running");
  resync (f, FALSE, RUNNING_STATUS, NULL, NULL);
  ASSERT_LOG (f, "done");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add ("/qmp/tracker/" path, Fixture, NULL, setup, func, teardown)
  ADD ("resync/not-applicable", test_resync_not_applicable);
  ADD ("resync/running", test_resync_running);
  ADD ("resync/status-answered-first", test_resync_status_first);
  ADD ("resync/paused-nospace", test_resync_paused_nospace);
  ADD ("resync/stale-io-status", test_resync_stale_io_status);
  ADD ("resync/thresholds", test_resync_thresholds);
  ADD ("resync/new-instance", test_resync_new_instance);
  ADD ("resync/same-pause", test_resync_same_pause);
  ADD ("resync/changed", test_resync_changed);
  ADD ("resync/abort", test_resync_abort);
  ADD ("resync/connection-lost", test_resync_connection_lost);
  ADD ("live/nospace", test_live_nospace);
  ADD ("live/throttled-error", test_live_throttled_error);
  ADD ("live/error-before-answer", test_live_error_before_answer);
  ADD ("live/late-error-after-resume", test_live_late_error_after_resume);
  ADD ("live/outdated-answer", test_live_outdated_answer);
  ADD ("live/causes", test_live_causes);
  ADD ("live/error-storm", test_live_error_storm);
  ADD ("own-stop/before-its-reply", test_own_stop);
  ADD ("own-stop/on-a-paused-vm", test_own_stop_on_paused);
  ADD ("own-stop/not-done", test_own_stop_not_done);
  ADD ("thresholds", test_thresholds);
  ADD ("detached", test_detached);
  ADD ("replay/qemu-7.2", test_replay_7_2);
  ADD ("replay/qemu-10.0", test_replay_10_0);
#undef ADD

  return g_test_run ();
}
