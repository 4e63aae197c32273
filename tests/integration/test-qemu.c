/* test-qemu.c: QmpClient against a real QEMU
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every expected value here was read from qemu-system-x86_64 7.2 and 10.0,
 * the QEMUs CI runs this against: texts are QEMU's own, and the tests fail
 * when a newer QEMU changes them, which is the point. The version itself
 * is whatever the QEMU in use says it is.
 */

#include <string.h>

#include <signal.h>

#include <qmpthin/qmpthin.h>

#include "qemu-rig.h"

/* A guard against hangs, not a timing assertion. */
#define WAIT_LIMIT_MS 30000

/* No guest at all: QMP, the run state and the monitor work without one.
 * -S keeps it in "prelaunch"; without it the (CPU-less) VM is "running". */
static const char *machine_prelaunch[] = { "-machine", "none", "-S", NULL };
static const char *machine_running[] = { "-machine", "none", NULL };

typedef struct {
  QmpTestQemu *qemu;
  QmpClient *client;
  /* Event names and "disconnected", in the order the client emitted them. */
  GPtrArray *log;
  /* The events the detailed handlers ("event::NAME") received. */
  GPtrArray *detailed;
  QmpEvent *shutdown;
  guint n_disconnected;
  GError *disconnect_error;
} Fixture;

typedef gboolean (*Predicate) (gpointer data);

static gboolean
set_flag (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the default main context until @done holds; fails the test if it
 * does not within WAIT_LIMIT_MS. */
static void
iterate_until (Predicate done,
               gpointer  data)
{
  gboolean timed_out = FALSE;
  guint guard = g_timeout_add (WAIT_LIMIT_MS, set_flag, &timed_out);

  while (!done (data) && !timed_out)
    g_main_context_iteration (NULL, TRUE);
  if (timed_out)
    g_error ("nothing happened in %d ms", WAIT_LIMIT_MS);
  g_source_remove (guard);
}

/* Dispatches whatever is ready, so that a second completion or a second
 * signal emission would be seen. */
static void
drain_main_context (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
on_event (QmpClient *client,
          QmpEvent  *event,
          gpointer   user_data)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->log, g_strdup (qmp_event_get_name (event)));
  if (g_strcmp0 (qmp_event_get_name (event), "SHUTDOWN") == 0)
    g_set_object (&f->shutdown, event);
}

static void
on_detailed_event (QmpClient *client,
                   QmpEvent  *event,
                   gpointer   user_data)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->detailed, g_object_ref (event));
}

static void
on_disconnected (QmpClient *client,
                 GError    *error,
                 gpointer   user_data)
{
  Fixture *f = user_data;

  f->n_disconnected++;
  g_ptr_array_add (f->log, g_strdup ("disconnected"));
  g_clear_error (&f->disconnect_error);
  f->disconnect_error = error ? g_error_copy (error) : NULL;
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->log = g_ptr_array_new_with_free_func (g_free);
  f->detailed = g_ptr_array_new_with_free_func (g_object_unref);
  if (!qmp_test_qemu_require ())
    return;
  f->qemu = qmp_test_qemu_start ((const char * const *) data);
  f->client = qmp_client_new (qmp_test_qemu_get_address (f->qemu));
  g_signal_connect (f->client, "event", G_CALLBACK (on_event), f);
  g_signal_connect (f->client, "disconnected", G_CALLBACK (on_disconnected), f);
  /* The error first: a failure says why. */
  qmp_client_connect_sync (f->client, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_READY);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->client);
  g_clear_pointer (&f->qemu, qmp_test_qemu_free);
  g_ptr_array_unref (f->log);
  g_ptr_array_unref (f->detailed);
  g_clear_object (&f->shutdown);
  g_clear_error (&f->disconnect_error);
}

static void
test_greeting (Fixture       *f,
               gconstpointer  data)
{
  g_autofree char *expected_package = NULL;
  g_autofree char *expected = NULL;
  g_autofree char *from_fields = NULL;
  const char *package;

  if (f->client == NULL)
    return;
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_READY);
  /* The greeting says what `qemu-system-x86_64 --version` says, in
   * numbers and as text. */
  expected = qmp_test_qemu_get_version (&expected_package);
  g_assert_cmpstr (qmp_client_get_qemu_version (f->client), ==, expected);
  from_fields = g_strdup_printf ("%u.%u.%u", qmp_client_get_qemu_major (f->client),
                                 qmp_client_get_qemu_minor (f->client), qmp_client_get_qemu_micro (f->client));
  g_assert_cmpstr (from_fields, ==, expected);
  g_assert_cmpuint (qmp_client_get_qemu_major (f->client), >=, 7);
  package = qmp_client_get_qemu_package (f->client);
  g_assert_nonnull (package);
  g_assert_cmpstr (package, ==, expected_package);
  /* CI runs Debian's builds, which name their package. */
  g_assert_cmpstr (package, !=, "");
  g_assert_true (g_strv_contains (qmp_client_get_capabilities (f->client), "oob"));
  g_assert_true (qmp_client_has_capability (f->client, "oob"));
  g_assert_false (qmp_client_has_capability (f->client, "no-such-capability"));
}

static void
test_query_status_prelaunch (Fixture       *f,
                             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = NULL;
  g_autoptr(QmpStatusInfo) info = NULL;
  JsonObject *object;

  if (f->client == NULL)
    return;
  value = qmp_client_execute_sync (f->client, "query-status", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (value));
  object = json_node_get_object (value);
  g_assert_cmpstr (json_object_get_string_member (object, "status"), ==, "prelaunch");
  g_assert_false (json_object_get_boolean_member (object, "running"));

  info = qmp_client_query_status_sync (f->client, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (qmp_status_info_get_status (info), ==, QMP_RUN_STATE_PRELAUNCH);
  g_assert_cmpstr (qmp_status_info_get_status_string (info), ==, "prelaunch");
  g_assert_false (qmp_status_info_get_running (info));
}

static void
test_query_status_running (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = NULL;
  JsonObject *object;

  if (f->client == NULL)
    return;
  value = qmp_client_execute_sync (f->client, "query-status", NULL, NULL, &error);
  g_assert_no_error (error);
  object = json_node_get_object (value);
  g_assert_cmpstr (json_object_get_string_member (object, "status"), ==, "running");
  g_assert_true (json_object_get_boolean_member (object, "running"));
}

static void
test_command_not_found (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = NULL;

  if (f->client == NULL)
    return;
  value = qmp_client_execute_sync (f->client, "no-such-command", NULL, NULL, &error);
  g_assert_null (value);
  g_assert_error (error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_COMMAND_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "The command no-such-command has not been found");
  g_assert_cmpstr (qmp_command_error_get_class_name (error), ==, "CommandNotFound");
  g_clear_error (&error);

  /* QEMU refuses a second negotiation with the same class. */
  value = qmp_client_execute_sync (f->client, "qmp_capabilities", NULL, NULL, &error);
  g_assert_null (value);
  g_assert_error (error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_COMMAND_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "Capabilities negotiation is already complete, command ignored");
  g_clear_error (&error);

  /* An error reply is an answer, not a broken connection. */
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_READY);
  value = qmp_client_execute_sync (f->client, "query-status", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (value);
  g_assert_cmpuint (f->n_disconnected, ==, 0);
}

static void
test_bad_argument (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) arguments = json_object_new ();
  g_autoptr(JsonNode) value = NULL;

  if (f->client == NULL)
    return;
  json_object_set_boolean_member (arguments, "bogus", TRUE);
  value = qmp_client_execute_sync (f->client, "query-status", arguments, NULL, &error);
  g_assert_null (value);
  g_assert_error (error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_GENERIC_ERROR);
  g_assert_cmpstr (error->message, ==, "Parameter 'bogus' is unexpected");
  g_assert_cmpstr (qmp_command_error_get_class_name (error), ==, "GenericError");
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_READY);
}

/* One command of many in flight. */
typedef struct {
  guint index;
  guint n_completions;
  JsonNode *value;
  GError *error;
  guint *n_done;                /* shared by all the calls of a batch */
} Call;

static void
call_ready (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  Call *call = user_data;

  call->n_completions++;
  (*call->n_done)++;
  g_clear_pointer (&call->value, json_node_unref);
  g_clear_error (&call->error);
  call->value = qmp_client_execute_finish (QMP_CLIENT (source), result, &call->error);
}

static void
call_clear (gpointer data)
{
  Call *call = data;

  g_clear_pointer (&call->value, json_node_unref);
  g_clear_error (&call->error);
}

static gboolean
batch_done (gpointer data)
{
  GArray *calls = data;

  return *g_array_index (calls, Call, 0).n_done >= calls->len;
}

static GArray *
batch_new (guint  n,
           guint *n_done)
{
  GArray *calls = g_array_sized_new (FALSE, TRUE, sizeof (Call), n);

  g_array_set_clear_func (calls, call_clear);
  g_array_set_size (calls, n);
  for (guint i = 0; i < n; i++)
    {
      g_array_index (calls, Call, i).index = i;
      g_array_index (calls, Call, i).n_done = n_done;
    }
  return calls;
}

/* Sends one HMP "print" command per call of the batch, each with
 * @timeout_msec. */
static void
batch_send (QmpClient *client,
            GArray    *calls,
            int        timeout_msec)
{
  for (guint i = 0; i < calls->len; i++)
    {
      g_autoptr(JsonObject) arguments = json_object_new ();
      g_autofree char *line = g_strdup_printf ("print %u", i);

      json_object_set_string_member (arguments, "command-line", line);
      qmp_client_execute_full_async (client, "human-monitor-command", arguments, timeout_msec,
                                     NULL, call_ready, &g_array_index (calls, Call, i));
    }
}

static void
assert_batch_failed (GArray *calls,
                     GQuark  domain,
                     int     code)
{
  for (guint i = 0; i < calls->len; i++)
    {
      Call *call = &g_array_index (calls, Call, i);

      g_assert_cmpuint (call->n_completions, ==, 1);
      g_assert_null (call->value);
      g_assert_error (call->error, domain, code);
    }
}

/* HMP's "print" echoes its argument (formatted like C's "%#x"), so every
 * reply is tied to the one command that asked for it: a mix-up between ids
 * cannot go unnoticed. */
static void
test_in_flight (Fixture       *f,
                gconstpointer  data)
{
  const guint n = 200;
  guint n_done = 0;
  g_autoptr(GArray) calls = batch_new (n, &n_done);

  if (f->client == NULL)
    return;
  batch_send (f->client, calls, QMP_TIMEOUT_DEFAULT);
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, n);

  iterate_until (batch_done, calls);
  drain_main_context ();
  g_assert_cmpuint (n_done, ==, n);
  for (guint i = 0; i < n; i++)
    {
      Call *call = &g_array_index (calls, Call, i);
      g_autofree char *expected = g_strdup_printf ("%#x\r\n", i);

      g_assert_cmpuint (call->n_completions, ==, 1);
      g_assert_no_error (call->error);
      g_assert_true (JSON_NODE_HOLDS_VALUE (call->value));
      g_assert_cmpstr (json_node_get_string (call->value), ==, expected);
    }
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);
}

/* QEMU killed with 64 commands in flight (it is stopped first, so that
 * none can be answered): each fails once with CLOSED, the client says
 * once that it is disconnected, and nothing is left pending. */
static void
test_sigkill_in_flight (Fixture       *f,
                        gconstpointer  data)
{
  guint n_done = 0;
  g_autoptr(GArray) calls = batch_new (64, &n_done);

  if (f->client == NULL)
    return;
  qmp_test_qemu_send_signal (f->qemu, SIGSTOP);
  batch_send (f->client, calls, QMP_TIMEOUT_NONE);
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 64);
  qmp_test_qemu_kill (f->qemu);

  iterate_until (batch_done, calls);
  drain_main_context ();
  g_assert_cmpuint (n_done, ==, 64);
  assert_batch_failed (calls, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_cmpuint (f->n_disconnected, ==, 1);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_CLOSED);
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);
}

/* A hung QEMU (SIGSTOP): the calls time out, once each. When it runs
 * again (SIGCONT) it answers them all: those late replies are dropped and
 * the connection goes on as if nothing happened. */
static void
test_sigstop_timeouts (Fixture       *f,
                       gconstpointer  data)
{
  guint n_done = 0;
  g_autoptr(GArray) calls = batch_new (16, &n_done);
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpStatusInfo) status = NULL;
  gint64 start;

  if (f->client == NULL)
    return;
  qmp_test_qemu_send_signal (f->qemu, SIGSTOP);
  start = g_get_monotonic_time ();
  batch_send (f->client, calls, 200);
  iterate_until (batch_done, calls);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 200 * 1000);
  drain_main_context ();
  assert_batch_failed (calls, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);

  /* The 16 late replies come before this one's, and are dropped. */
  qmp_test_qemu_send_signal (f->qemu, SIGCONT);
  status = qmp_client_query_status_sync (f->client, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (qmp_status_info_get_status (status), ==, QMP_RUN_STATE_PRELAUNCH);
  drain_main_context ();
  for (guint i = 0; i < calls->len; i++)
    g_assert_cmpuint (g_array_index (calls, Call, i).n_completions, ==, 1);
  g_assert_cmpuint (f->n_disconnected, ==, 0);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_READY);
}

/* Whether QEMU answers, as the client says it, with when it changed. */
typedef struct {
  GArray *changes;              /* gboolean, from ::responsive-changed */
  gint64 changed_at;            /* monotonic, of the last one */
} Responsiveness;

static void
on_responsive_changed (QmpClient *client,
                       gboolean   responsive,
                       gpointer   user_data)
{
  Responsiveness *r = user_data;

  g_assert_cmpint (responsive, ==, qmp_client_get_responsive (client));
  g_array_append_val (r->changes, responsive);
  r->changed_at = g_get_monotonic_time ();
}

static gboolean
answers_again (gpointer data)
{
  return ((Responsiveness *) data)->changes->len >= 2;
}

static gboolean
found_silent (gpointer data)
{
  return ((Responsiveness *) data)->changes->len >= 1;
}

static gboolean
wait_over (gpointer data)
{
  return *(gboolean *) data;
}

/* QEMU frozen (SIGSTOP) with nothing in flight: its idle monitor is
 * probed, and the client finds it silent within two intervals of the last
 * answer, without failing the command in flight; after SIGCONT it answers
 * the probe and is responsive again. The figures are reported; the bound
 * asserted is generous, for slow machines. A failure aborts the test
 * program, and QEMU, stopped or not, dies with it (qemu-rig.c). */
static void
test_sigstop_liveness (Fixture       *f,
                       gconstpointer  data)
{
  const guint interval = 1000;
  Responsiveness r = { g_array_new (FALSE, FALSE, sizeof (gboolean)), 0 };
  guint n_done = 0;
  g_autoptr(GArray) calls = batch_new (1, &n_done);
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpStatusInfo) status = NULL;
  gboolean waited = FALSE;
  gint64 stopped, silent_after, continued;

  if (f->client == NULL)
    return;
  g_signal_connect (f->client, "responsive-changed", G_CALLBACK (on_responsive_changed), &r);
  g_assert_true (qmp_client_get_responsive (f->client));
  qmp_client_set_liveness_interval (f->client, interval);

  /* Idle and probed: it answers, nothing changes. */
  g_timeout_add (3 * interval, set_flag, &waited);
  iterate_until (wait_over, &waited);
  g_assert_cmpuint (r.changes->len, ==, 0);

  stopped = g_get_monotonic_time ();
  qmp_test_qemu_send_signal (f->qemu, SIGSTOP);
  batch_send (f->client, calls, 4 * interval);
  iterate_until (found_silent, &r);
  silent_after = r.changed_at - stopped;
  g_test_message ("QEMU %s found silent %" G_GINT64_FORMAT " ms after SIGSTOP (interval %u ms)",
                  qmp_client_get_qemu_version (f->client), silent_after / 1000, interval);
  g_assert_false (g_array_index (r.changes, gboolean, 0));
  g_assert_cmpint (silent_after, <=, (gint64) (2 * interval + 2000) * 1000);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_READY);
  g_assert_cmpuint (n_done, ==, 0);

  /* The command keeps its own timeout. */
  iterate_until (batch_done, calls);
  assert_batch_failed (calls, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpuint (r.changes->len, ==, 1);

  continued = g_get_monotonic_time ();
  qmp_test_qemu_send_signal (f->qemu, SIGCONT);
  iterate_until (answers_again, &r);
  g_test_message ("responsive again %" G_GINT64_FORMAT " ms after SIGCONT",
                  (r.changed_at - continued) / 1000);
  g_assert_true (g_array_index (r.changes, gboolean, 1));
  status = qmp_client_query_status_sync (f->client, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (qmp_status_info_get_status (status), ==, QMP_RUN_STATE_PRELAUNCH);
  g_assert_cmpuint (f->n_disconnected, ==, 0);
  g_assert_cmpuint (r.changes->len, ==, 2);
  g_signal_handlers_disconnect_by_data (f->client, &r);
  g_array_unref (r.changes);
}

/* Not a timed test: the figure is reported, never asserted. */
static void
test_pipelined (Fixture       *f,
                gconstpointer  data)
{
  const guint n = 1000;
  guint n_done = 0;
  g_autoptr(GArray) calls = batch_new (n, &n_done);
  gint64 start;
  double elapsed;

  if (f->client == NULL)
    return;
  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    qmp_client_execute_async (f->client, "query-status", NULL, NULL,
                              call_ready, &g_array_index (calls, Call, i));
  iterate_until (batch_done, calls);
  elapsed = (g_get_monotonic_time () - start) / (double) G_USEC_PER_SEC;

  drain_main_context ();
  g_assert_cmpuint (n_done, ==, n);
  for (guint i = 0; i < n; i++)
    {
      Call *call = &g_array_index (calls, Call, i);

      g_assert_cmpuint (call->n_completions, ==, 1);
      g_assert_no_error (call->error);
      g_assert_cmpstr (json_object_get_string_member (json_node_get_object (call->value), "status"),
                       ==, "prelaunch");
    }
  g_test_message ("%u pipelined query-status against QEMU: %.3f s, %.0f commands/s",
                  n, elapsed, n / elapsed);
}

static gboolean
has_one_detailed (gpointer data)
{
  return ((Fixture *) data)->detailed->len >= 1;
}

static gboolean
has_two_detailed (gpointer data)
{
  return ((Fixture *) data)->detailed->len >= 2;
}

static void
assert_plain_event (QmpEvent   *event,
                    const char *name,
                    gint64      not_before_usec)
{
  gint64 usec = qmp_event_get_timestamp_usec (event);

  g_assert_cmpstr (qmp_event_get_name (event), ==, name);
  /* STOP and RESUME carry no "data": the client gives an empty object. */
  g_assert_nonnull (qmp_event_get_data (event));
  g_assert_cmpuint (json_object_get_size (qmp_event_get_data (event)), ==, 0);
  g_assert_false (qmp_event_get_derived (event));
  /* QEMU stamps events with the host's wall clock. */
  g_assert_cmpint (usec, >=, not_before_usec);
  g_assert_cmpint (usec, <=, g_get_real_time ());
  g_assert_cmpint (g_date_time_to_unix (qmp_event_get_timestamp (event)), ==, usec / G_USEC_PER_SEC);
}

static void
test_stop_cont (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpStatusInfo) paused = NULL;
  g_autoptr(QmpStatusInfo) running = NULL;
  gint64 start = g_get_real_time () / G_USEC_PER_SEC * G_USEC_PER_SEC;

  if (f->client == NULL)
    return;
  g_signal_connect (f->client, "event::STOP", G_CALLBACK (on_detailed_event), f);
  g_signal_connect (f->client, "event::RESUME", G_CALLBACK (on_detailed_event), f);

  g_assert_true (qmp_client_stop_sync (f->client, NULL, &error));
  g_assert_no_error (error);
  iterate_until (has_one_detailed, f);
  paused = qmp_client_query_status_sync (f->client, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (qmp_status_info_get_status_string (paused), ==, "paused");
  g_assert_false (qmp_status_info_get_running (paused));

  g_assert_true (qmp_client_cont_sync (f->client, NULL, &error));
  g_assert_no_error (error);
  iterate_until (has_two_detailed, f);
  running = qmp_client_query_status_sync (f->client, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (qmp_status_info_get_status_string (running), ==, "running");

  drain_main_context ();
  g_assert_cmpuint (f->detailed->len, ==, 2);
  assert_plain_event (f->detailed->pdata[0], "STOP", start);
  assert_plain_event (f->detailed->pdata[1], "RESUME",
                      qmp_event_get_timestamp_usec (f->detailed->pdata[0]));
  /* The generic handler saw the same two, and nothing else happened. */
  g_assert_cmpuint (f->log->len, ==, 2);
  g_assert_cmpstr (f->log->pdata[0], ==, "STOP");
  g_assert_cmpstr (f->log->pdata[1], ==, "RESUME");
}

typedef struct {
  Fixture *f;
  guint n_completions;
  JsonNode *value;
  GError *error;
} QuitCall;

static void
quit_ready (GObject      *source,
            GAsyncResult *result,
            gpointer      user_data)
{
  QuitCall *call = user_data;

  call->n_completions++;
  g_clear_pointer (&call->value, json_node_unref);
  g_clear_error (&call->error);
  call->value = qmp_client_execute_finish (QMP_CLIENT (source), result, &call->error);
}

static gboolean
quit_over (gpointer data)
{
  QuitCall *call = data;

  return call->n_completions > 0 && call->f->n_disconnected > 0;
}

static void
test_quit (Fixture       *f,
           gconstpointer  data)
{
  QuitCall call = { f, 0, NULL, NULL };
  JsonObject *shutdown_data;

  if (f->client == NULL)
    return;
  qmp_client_execute_async (f->client, "quit", NULL, NULL, quit_ready, &call);
  iterate_until (quit_over, &call);
  drain_main_context ();

  /* QEMU sends SHUTDOWN before its reply, then closes (EOF or reset): the
   * reply may be lost, but the call completes exactly once either way. */
  g_assert_cmpuint (call.n_completions, ==, 1);
  if (call.value != NULL)
    {
      g_assert_no_error (call.error);
      g_assert_true (JSON_NODE_HOLDS_OBJECT (call.value));
      g_assert_cmpuint (json_object_get_size (json_node_get_object (call.value)), ==, 0);
    }
  else
    {
      g_assert_error (call.error, G_IO_ERROR, G_IO_ERROR_CLOSED);
    }
  g_test_message ("quit %s", call.value != NULL ? "was answered" : "failed with G_IO_ERROR_CLOSED");

  /* The event first, then the disconnection, once. */
  g_assert_cmpuint (f->log->len, ==, 2);
  g_assert_cmpstr (f->log->pdata[0], ==, "SHUTDOWN");
  g_assert_cmpstr (f->log->pdata[1], ==, "disconnected");
  shutdown_data = qmp_event_get_data (f->shutdown);
  g_assert_cmpstr (json_object_get_string_member (shutdown_data, "reason"), ==, "host-qmp-quit");
  g_assert_false (json_object_get_boolean_member (shutdown_data, "guest"));

  g_assert_cmpuint (f->n_disconnected, ==, 1);
  g_assert_error (f->disconnect_error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_CLOSED);
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);
  g_assert_true (qmp_test_qemu_wait_exit (f->qemu, 10000));

  g_clear_pointer (&call.value, json_node_unref);
  g_clear_error (&call.error);
}

static void
test_second_client (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(QmpClient) second = NULL;
  g_autoptr(QmpClient) third = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = NULL;
  g_autoptr(JsonNode) value_third = NULL;

  if (f->client == NULL)
    return;
  /* QEMU serves one client per monitor: the kernel accepts the second
   * connection, but no greeting comes while the first one is there. */
  second = qmp_client_new (qmp_test_qemu_get_address (f->qemu));
  qmp_client_set_connect_timeout (second, 1000);
  g_assert_false (qmp_client_connect_sync (second, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "another client"));
  g_assert_cmpint (qmp_client_get_state (second), !=, QMP_CLIENT_STATE_READY);
  g_clear_error (&error);

  /* The first client is unaffected. */
  value = qmp_client_execute_sync (f->client, "query-status", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (value);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_READY);

  /* Once it leaves, a new client gets its greeting. */
  g_assert_true (qmp_client_close_sync (f->client, NULL, &error));
  g_assert_no_error (error);
  third = qmp_client_new (qmp_test_qemu_get_address (f->qemu));
  g_assert_true (qmp_client_connect_sync (third, NULL, &error));
  g_assert_no_error (error);
  value_third = qmp_client_execute_sync (third, "query-status", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (value_third), "status"),
                   ==, "prelaunch");
  g_assert_cmpuint (f->n_disconnected, ==, 1);
  g_assert_no_error (f->disconnect_error);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, args, func) \
  g_test_add ("/qmp/qemu/" path, Fixture, args, fixture_setup, func, fixture_teardown)

  ADD ("greeting", machine_prelaunch, test_greeting);
  ADD ("query-status/prelaunch", machine_prelaunch, test_query_status_prelaunch);
  ADD ("query-status/running", machine_running, test_query_status_running);
  ADD ("error/command-not-found", machine_prelaunch, test_command_not_found);
  ADD ("error/bad-argument", machine_prelaunch, test_bad_argument);
  ADD ("in-flight", machine_prelaunch, test_in_flight);
  ADD ("pipelined", machine_prelaunch, test_pipelined);
  ADD ("stop-cont", machine_running, test_stop_cont);
  ADD ("quit", machine_prelaunch, test_quit);
  ADD ("second-client", machine_prelaunch, test_second_client);
  ADD ("fault/sigkill-in-flight", machine_prelaunch, test_sigkill_in_flight);
  ADD ("fault/sigstop-timeouts", machine_prelaunch, test_sigstop_timeouts);
  ADD ("fault/sigstop-liveness", machine_prelaunch, test_sigstop_liveness);

#undef ADD

  return g_test_run ();
}
