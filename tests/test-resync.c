/* test-resync.c: resync after connecting, derived events, the stop reason
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include <qmpthin/qmpthin.h>

#include "qmp-fake-server.h"
#include "qmp-test-util.h"

#define WAIT_LIMIT_MS 10000

#define PAUSED_NOSPACE_BLOCKS "{\"return\": " PAUSED_NOSPACE_ARRAY "}"
#define PAUSED_NOSPACE_ARRAY \
  "[{\"io-status\": \"ok\", \"device\": \"\", \"qdev\": \"bootdisk\"," \
  " \"inserted\": {\"node-name\": \"boot-fmt\", \"write_threshold\": 0}}," \
  " {\"io-status\": \"nospace\", \"device\": \"\", \"qdev\": \"/machine/peripheral/datadisk/virtio-backend\"," \
  " \"inserted\": {\"node-name\": \"data-fmt\", \"write_threshold\": 0}}]"

typedef struct {
  QmpFakeServer *server;
  QmpClient *client;
  GPtrArray *log;               /* "event NAME[ derived]", "reason KIND" */
  guint n_changed;              /* ::stop-reason-changed */
  guint tick;                   /* wakes blocking iterations to check deadlines */
} Fixture;

static gboolean
tick (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

static void
on_event (QmpClient *client,
          QmpEvent  *event,
          gpointer   user_data)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->log, g_strdup_printf ("event %s%s", qmp_event_get_name (event),
                                            qmp_event_get_derived (event) ? " derived" : ""));
}

/* Every new reason, the first one a connect finds included (which is
 * no ::stop-reason-changed: see test_changed_signal). */
static void
on_reason (GObject    *object,
           GParamSpec *pspec,
           gpointer    user_data)
{
  Fixture *f = user_data;
  g_autoptr(GEnumClass) klass = g_type_class_ref (QMP_TYPE_STOP_KIND);
  QmpStopReason *reason = qmp_client_get_stop_reason (QMP_CLIENT (object));

  g_ptr_array_add (f->log, g_strdup_printf ("reason %s",
                                            g_enum_get_value (klass, qmp_stop_reason_get_kind (reason))->value_nick));
}

static void
on_reason_changed (QmpClient     *client,
                   QmpStopReason *reason,
                   gpointer       user_data)
{
  Fixture *f = user_data;

  g_assert_true (reason == qmp_client_get_stop_reason (client));
  f->n_changed++;
}

/* A library informs through signals and errors: a message of its own
 * (a reconnection to a new QEMU used to print one) fails the test, as
 * warnings and criticals already do. */
static void
fail_on_message (const char     *domain,
                 GLogLevelFlags  level,
                 const char     *message,
                 gpointer        user_data)
{
  g_error ("the library printed on its own: %s", message);
}

static void
setup (Fixture       *f,
       gconstpointer  data)
{
  g_log_set_handler ("Qmp", G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO, fail_on_message, NULL);
  f->server = qmp_fake_server_new ();
  f->client = qmp_client_new (qmp_fake_server_get_address (f->server));
  f->log = g_ptr_array_new_with_free_func (g_free);
  g_signal_connect (f->client, "event", G_CALLBACK (on_event), f);
  g_signal_connect (f->client, "notify::stop-reason", G_CALLBACK (on_reason), f);
  g_signal_connect (f->client, "stop-reason-changed", G_CALLBACK (on_reason_changed), f);
  f->tick = g_timeout_add (50, tick, NULL);
}

static void
teardown (Fixture       *f,
          gconstpointer  data)
{
  g_source_remove (f->tick);
  g_clear_object (&f->client);
  qmp_fake_server_free (f->server);
  g_ptr_array_unref (f->log);
}

static void
connect (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (qmp_client_connect_sync (f->client, NULL, &error));
  g_assert_no_error (error);
}

static void
spin_until_log (Fixture *f,
                guint    length)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_LIMIT_MS * 1000;

  while (f->log->len < length)
    {
      if (g_get_monotonic_time () >= deadline)
        {
          for (guint i = 0; i < f->log->len; i++)
            g_test_message ("log: %s", (const char *) f->log->pdata[i]);
          g_error ("%u log entries after %d ms, not %u", f->log->len, WAIT_LIMIT_MS, length);
        }
      g_main_context_iteration (NULL, TRUE);
    }
  /* And nothing more. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  for (guint i = 0; f->log->len != length && i < f->log->len; i++)
    g_test_message ("%s: %s", i < length ? "log" : "unexpected", (const char *) f->log->pdata[i]);
  g_assert_cmpuint (f->log->len, ==, length);
}

static void
assert_log (Fixture            *f,
            const char * const *expected)
{
  guint n = g_strv_length ((char **) expected);

  spin_until_log (f, n);
  for (guint i = 0; i < n; i++)
    g_assert_cmpstr (f->log->pdata[i], ==, expected[i]);
}

static void
test_not_applicable (Fixture       *f,
                     gconstpointer  data)
{
  const char *expected[] = { "reason not-applicable", NULL };

  /* A storage daemon: no query-status (the fake server answers
   * CommandNotFound to what it was not told). */
  connect (f);
  g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f->client)), ==,
                   QMP_STOP_KIND_NOT_APPLICABLE);
  g_assert_false (qmp_stop_reason_is_paused (qmp_client_get_stop_reason (f->client)));
  assert_log (f, expected);
}

static void
test_running (Fixture       *f,
              gconstpointer  data)
{
  const char *expected[] = { "reason running", NULL };
  QmpStopReason *reason;

  qmp_fake_server_set_reply (f->server, "query-status", "{\"return\": {\"status\": \"running\", \"running\": true}}");
  g_assert_null (qmp_client_get_stop_reason (f->client));
  connect (f);
  reason = qmp_client_get_stop_reason (f->client);
  g_assert_cmpint (qmp_stop_reason_get_kind (reason), ==, QMP_STOP_KIND_RUNNING);
  g_assert_cmpint (qmp_stop_reason_get_run_state (reason), ==, QMP_RUN_STATE_RUNNING);
  g_assert_true (qmp_stop_reason_get_derived (reason));
  assert_log (f, expected);
}

/* query-status goes out right behind qmp_capabilities. A server that
 * answers it first (QEMU does not: it runs commands in order) still gets
 * a client that waits for the negotiation, then uses the status it read. */
static void
test_status_answered_first (Fixture       *f,
                            gconstpointer  data)
{
  const char *expected[] = { "reason paused-by-user", NULL };
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GPtrArray) requests = NULL;
  g_autoptr(GError) error = NULL;

  qmp_fake_server_set_reply (f->server, "query-status", "{\"return\": {\"status\": \"paused\", \"running\": false}}");
  qmp_fake_server_set_reply (f->server, "query-block", "{\"return\": []}");
  qmp_fake_server_hold (f->server, "qmp_capabilities");
  qmp_client_connect_async (f->client, NULL, qmp_test_store_result, &result);

  /* Both requests in, the status answered, the negotiation not. */
  requests = qmp_fake_server_wait_requests (f->server, 2, WAIT_LIMIT_MS);
  g_assert_cmpstr (json_object_get_string_member (requests->pdata[0], "execute"), ==, "qmp_capabilities");
  g_assert_cmpstr (json_object_get_string_member (requests->pdata[1], "execute"), ==, "query-status");
  /* The status reply read: only the negotiation is left in flight. */
  QMP_TEST_WAIT_FOR (qmp_client_get_n_pending (f->client) == 1, WAIT_LIMIT_MS);
  g_assert_null (result);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_NEGOTIATING);

  qmp_fake_server_reply (f->server, requests->pdata[0], "{}");
  g_assert_true (qmp_client_connect_finish (f->client, qmp_test_wait_result (&result, WAIT_LIMIT_MS), &error));
  g_assert_no_error (error);
  g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f->client)), ==,
                   QMP_STOP_KIND_PAUSED_BY_USER);
  assert_log (f, expected);
}

/* Connecting to a VM already paused on a full disk: the stop reason names
 * the disk, a derived block-io-error says it, and an event that arrived
 * during the resync comes after them. */
static void
test_paused_nospace (Fixture       *f,
                     gconstpointer  data)
{
  const char *expected[] = { "reason nospace", "event BLOCK_IO_ERROR derived", "event RTC_CHANGE", NULL };
  g_autoptr(JsonObject) request = NULL;
  QmpStopReason *reason;
  const char * const *nodes;
  gint64 deadline = g_get_monotonic_time () + WAIT_LIMIT_MS * 1000;

  qmp_fake_server_set_reply (f->server, "query-status",
                             "{\"return\": {\"status\": \"io-error\", \"running\": false}}");
  qmp_fake_server_hold (f->server, "query-block");
  qmp_client_connect_async (f->client, NULL, NULL, NULL);
  while ((request = qmp_fake_server_pop_request (f->server, 10)) == NULL ||
         !g_str_equal (json_object_get_string_member (request, "execute"), "query-block"))
    {
      g_clear_pointer (&request, json_object_unref);
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
    }
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_SYNCING);

  /* An event during the resync, then the answer. */
  qmp_fake_server_send_event (f->server, "RTC_CHANGE", "{\"offset\": 1}");
  qmp_fake_server_flush (f->server);
  qmp_fake_server_reply (f->server, request, PAUSED_NOSPACE_ARRAY);
  while (qmp_client_get_state (f->client) != QMP_CLIENT_STATE_READY)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }

  reason = qmp_client_get_stop_reason (f->client);
  g_assert_cmpint (qmp_stop_reason_get_kind (reason), ==, QMP_STOP_KIND_NOSPACE);
  g_assert_cmpstr (qmp_stop_reason_get_run_state_string (reason), ==, "io-error");
  g_assert_true (qmp_stop_reason_get_derived (reason));
  g_assert_cmpint (qmp_stop_reason_get_since_usec (reason), ==, -1);
  nodes = qmp_stop_reason_get_node_names (reason);
  g_assert_cmpuint (g_strv_length ((char **) nodes), ==, 1);
  g_assert_cmpstr (nodes[0], ==, "data-fmt");

  assert_log (f, expected);
}

static void
capture_io_error (QmpClient            *client,
                  QmpBlockIoErrorEvent *event,
                  gpointer              user_data)
{
  g_set_object ((QmpBlockIoErrorEvent **) user_data, event);
}

static void
capture_threshold (QmpClient              *client,
                   QmpWriteThresholdEvent *event,
                   gpointer                user_data)
{
  g_set_object ((QmpWriteThresholdEvent **) user_data, event);
}

static void
test_derived_payloads (Fixture       *f,
                       gconstpointer  data)
{
  const char *expected[] = { "reason nospace", "event BLOCK_IO_ERROR derived",
                             "event BLOCK_WRITE_THRESHOLD derived", NULL };
  g_autoptr(QmpBlockIoErrorEvent) io_error = NULL;
  g_autoptr(QmpWriteThresholdEvent) threshold = NULL;

  qmp_fake_server_set_reply (f->server, "query-status",
                             "{\"return\": {\"status\": \"io-error\", \"running\": false}}");
  qmp_fake_server_set_reply (f->server, "query-block", PAUSED_NOSPACE_BLOCKS);
  qmp_fake_server_set_reply (f->server, "query-named-block-nodes",
                             "{\"return\": [{\"node-name\": \"data-file\", \"drv\": \"file\", \"write_threshold\": 0},"
                             " {\"node-name\": \"other-file\", \"drv\": \"file\", \"write_threshold\": 4096}]}");
  g_signal_connect (f->client, "block-io-error", G_CALLBACK (capture_io_error), &io_error);
  g_signal_connect (f->client, "block-write-threshold", G_CALLBACK (capture_threshold), &threshold);

  /* A restarted agent declares what it had armed. */
  qmp_client_declare_write_threshold (f->client, "data-file", 1048576);
  qmp_client_declare_write_threshold (f->client, "other-file", 4096);
  connect (f);
  assert_log (f, expected);

  g_assert_true (qmp_event_get_derived (QMP_EVENT (io_error)));
  g_assert_true (qmp_block_io_error_event_get_nospace (io_error));
  g_assert_cmpint (qmp_block_io_error_event_get_action (io_error), ==, QMP_BLOCK_ERROR_ACTION_STOP);
  g_assert_cmpstr (qmp_block_io_error_event_get_node_name (io_error), ==, "data-fmt");
  g_assert_cmpint (qmp_block_io_error_event_get_operation (io_error), ==, QMP_IO_OPERATION_UNKNOWN);

  g_assert_true (qmp_event_get_derived (QMP_EVENT (threshold)));
  g_assert_cmpstr (qmp_write_threshold_event_get_node_name (threshold), ==, "data-file");
  g_assert_cmpuint (qmp_write_threshold_event_get_write_threshold (threshold), ==, 1048576);
  g_assert_cmpuint (qmp_write_threshold_event_get_amount_exceeded (threshold), ==, QMP_AMOUNT_EXCEEDED_UNKNOWN);

  /* Reported once: the next resync has nothing to derive for it, while
   * the still-armed node stays remembered. */
  g_assert_true (qmp_client_close_sync (f->client, NULL, NULL));
  g_ptr_array_set_size (f->log, 0);
  qmp_fake_server_set_reply (f->server, "query-status", "{\"return\": {\"status\": \"running\", \"running\": true}}");
  connect (f);
  {
    const char *after[] = { "reason running", NULL };
    g_autoptr(JsonObject) request = NULL;
    gboolean asked_nodes = FALSE;

    assert_log (f, after);
    while ((request = qmp_fake_server_pop_request (f->server, 20)) != NULL)
      {
        asked_nodes |= g_str_equal (json_object_get_string_member (request, "execute"), "query-named-block-nodes");
        g_clear_pointer (&request, json_object_unref);
      }
    g_assert_true (asked_nodes);
  }
}

static void
test_live (Fixture       *f,
           gconstpointer  data)
{
  const char *expected[] = {
    "reason running",
    "event BLOCK_IO_ERROR", "reason nospace", "event STOP",
    "reason running", "event RESUME",
    "reason paused-by-user", "event STOP",
    "reason running", "event RESUME",
    "reason unknown", "event STOP", "reason paused-by-user",
    NULL
  };
  g_autoptr(GError) error = NULL;
  QmpStopReason *reason;

  qmp_fake_server_set_reply (f->server, "query-status", "{\"return\": {\"status\": \"running\", \"running\": true}}");
  /* QEMU pauses the VM while it runs the command: STOP, then the reply. */
  qmp_fake_server_set_raw_reply (f->server, "stop",
                                 "{\"timestamp\": {\"seconds\": 1795358841, \"microseconds\": 1}, \"event\": \"STOP\"}\r\n"
                                 "{\"return\": {}, \"id\": " QMP_FAKE_ID "}\r\n");
  connect (f);

  qmp_fake_server_send (f->server,
                        "{\"timestamp\": {\"seconds\": 1795358840, \"microseconds\": 739874}, \"event\": \"BLOCK_IO_ERROR\","
                        " \"data\": {\"device\": \"\", \"nospace\": true, \"node-name\": \"data-fmt\","
                        " \"reason\": \"No space left on device\", \"operation\": \"write\", \"action\": \"stop\"}}\r\n"
                        "{\"timestamp\": {\"seconds\": 1795358840, \"microseconds\": 740152}, \"event\": \"STOP\"}\r\n");
  spin_until_log (f, 4);
  reason = qmp_client_get_stop_reason (f->client);
  g_assert_cmpint (qmp_stop_reason_get_kind (reason), ==, QMP_STOP_KIND_NOSPACE);
  g_assert_cmpstr (qmp_stop_reason_get_node_names (reason)[0], ==, "data-fmt");
  g_assert_cmpint (qmp_stop_reason_get_since_usec (reason), ==, G_GINT64_CONSTANT (1795358840740152));
  g_assert_false (qmp_stop_reason_get_derived (reason));

  qmp_fake_server_send_event (f->server, "RESUME", NULL);
  spin_until_log (f, 6);

  /* Our own stop. */
  g_assert_true (qmp_client_stop_sync (f->client, NULL, &error));
  spin_until_log (f, 8);
  qmp_fake_server_send_event (f->server, "RESUME", NULL);
  spin_until_log (f, 10);

  /* Somebody else's: nothing explains it, QEMU is asked at once. */
  qmp_fake_server_set_reply (f->server, "query-status", "{\"return\": {\"status\": \"paused\", \"running\": false}}");
  qmp_fake_server_set_reply (f->server, "query-block", PAUSED_NOSPACE_BLOCKS);
  qmp_fake_server_send_event (f->server, "STOP", NULL);
  assert_log (f, expected);
  reason = qmp_client_get_stop_reason (f->client);
  g_assert_cmpstr (qmp_stop_reason_get_run_state_string (reason), ==, "paused");
  g_assert_false (qmp_stop_reason_get_derived (reason));
  g_assert_cmpint (qmp_stop_reason_get_since_usec (reason), >, 0);
}

#define RUNNING_STATUS "{\"return\": {\"status\": \"running\", \"running\": true}}"
#define IO_ERROR_STATUS "{\"return\": {\"status\": \"io-error\", \"running\": false}}"
#define PAUSED_STATUS "{\"return\": {\"status\": \"paused\", \"running\": false}}"
#define NOSPACE_DATA \
  "{\"device\": \"\", \"nospace\": true, \"node-name\": \"data-fmt\"," \
  " \"qom-path\": \"/machine/peripheral/datadisk/virtio-backend\"," \
  " \"reason\": \"No space left on device\", \"operation\": \"write\", \"action\": \"stop\"}"
#define T0 G_GINT64_CONSTANT (1796397185000000)

/* QEMU 10.0 throttles BLOCK_IO_ERROR (QEMU-FACTS, s4 of 10.0): a second
 * ENOSPC pause within a second comes as a STOP alone, its error a second
 * later with an older timestamp. The client asks QEMU at once, and the
 * late error only confirms what it was told. */
static void
test_throttled_error (Fixture       *f,
                      gconstpointer  data)
{
  const char *expected[] = {
    "reason running",
    "event BLOCK_IO_ERROR", "reason nospace", "event STOP",
    "reason running", "event RESUME",
    "reason unknown", "event STOP", "reason nospace", "event BLOCK_IO_ERROR derived",
    "event BLOCK_IO_ERROR",
    NULL
  };
  g_autoptr(QmpBlockIoErrorEvent) io_error = NULL;
  QmpStopReason *reason;
  GPtrArray *disks;

  qmp_fake_server_set_reply (f->server, "query-status", RUNNING_STATUS);
  g_signal_connect (f->client, "block-io-error", G_CALLBACK (capture_io_error), &io_error);
  connect (f);
  qmp_fake_server_set_reply (f->server, "query-status", IO_ERROR_STATUS);
  qmp_fake_server_set_reply (f->server, "query-block", PAUSED_NOSPACE_BLOCKS);

  qmp_fake_server_send_event_at (f->server, "BLOCK_IO_ERROR", T0 + 771988, NOSPACE_DATA);
  qmp_fake_server_send_event_at (f->server, "STOP", T0 + 772747, NULL);
  qmp_fake_server_send_event_at (f->server, "RESUME", T0 + 774085, NULL);
  qmp_fake_server_send_event_at (f->server, "STOP", T0 + 779366, NULL);
  spin_until_log (f, 10);
  reason = qmp_client_get_stop_reason (f->client);
  g_assert_cmpint (qmp_stop_reason_get_kind (reason), ==, QMP_STOP_KIND_NOSPACE);
  g_assert_cmpstr (qmp_stop_reason_get_node_names (reason)[0], ==, "data-fmt");
  g_assert_cmpint (qmp_stop_reason_get_since_usec (reason), ==, T0 + 779366);
  g_assert_false (qmp_stop_reason_get_derived (reason));
  /* Its disk, by every name QEMU gave it. */
  disks = qmp_stop_reason_get_disks (reason);
  g_assert_cmpuint (disks->len, ==, 1);
  g_assert_cmpstr (qmp_block_info_get_qdev (disks->pdata[0]), ==, "/machine/peripheral/datadisk/virtio-backend");
  g_assert_true (qmp_stop_reason_involves_disk (reason, "/machine/peripheral/datadisk/virtio-backend"));
  g_assert_true (qmp_stop_reason_involves_disk (reason, "data-fmt"));
  g_assert_false (qmp_stop_reason_involves_disk (reason, "boot-fmt"));
  g_assert_false (qmp_stop_reason_involves_disk (reason, ""));
  /* The derived error carries the QOM path query-block gave. */
  g_assert_true (qmp_event_get_derived (QMP_EVENT (io_error)));
  g_assert_cmpstr (qmp_block_io_error_event_get_qom_path (io_error), ==,
                   "/machine/peripheral/datadisk/virtio-backend");

  /* The throttled error, a second late: the same pause, no news. */
  qmp_fake_server_send_event_at (f->server, "BLOCK_IO_ERROR", T0 + 774858, NOSPACE_DATA);
  assert_log (f, expected);
  g_assert_true (qmp_client_get_stop_reason (f->client) == reason);
}

/* A late error whose pause ended (its timestamp is older than the RESUME)
 * explains nothing: a later STOP of somebody else's is what QEMU says. */
static void
test_late_error_after_resume (Fixture       *f,
                              gconstpointer  data)
{
  const char *expected[] = {
    "reason running",
    "reason unknown", "event STOP", "reason nospace", "event BLOCK_IO_ERROR derived",
    "reason running", "event RESUME",
    "event BLOCK_IO_ERROR",
    "reason unknown", "event STOP", "reason paused-by-user",
    NULL
  };

  qmp_fake_server_set_reply (f->server, "query-status", RUNNING_STATUS);
  connect (f);
  qmp_fake_server_set_reply (f->server, "query-status", IO_ERROR_STATUS);
  qmp_fake_server_set_reply (f->server, "query-block", PAUSED_NOSPACE_BLOCKS);
  qmp_fake_server_send_event_at (f->server, "STOP", T0 + 1000, NULL);
  spin_until_log (f, 5);
  qmp_fake_server_send_event_at (f->server, "RESUME", T0 + 2000, NULL);
  qmp_fake_server_send_event_at (f->server, "BLOCK_IO_ERROR", T0 + 900, NOSPACE_DATA);
  spin_until_log (f, 8);
  g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f->client)), ==, QMP_STOP_KIND_RUNNING);

  /* Another client pauses the VM a minute later. */
  qmp_fake_server_set_reply (f->server, "query-status", PAUSED_STATUS);
  qmp_fake_server_send_event_at (f->server, "STOP", T0 + 60000000, NULL);
  assert_log (f, expected);
}

/* A WATCHDOG or GUEST_PANICKED whose action did not pause the VM does not
 * explain a later STOP; one whose action pauses does. */
static void
test_cause_only_for_its_stop (Fixture       *f,
                              gconstpointer  data)
{
  const char *expected[] = {
    "reason running",
    "event WATCHDOG", "event GUEST_PANICKED", "reason unknown", "event STOP", "reason paused-by-user",
    "reason running", "event RESUME",
    "event WATCHDOG", "reason watchdog", "event STOP",
    NULL
  };

  qmp_fake_server_set_reply (f->server, "query-status", RUNNING_STATUS);
  connect (f);
  qmp_fake_server_set_reply (f->server, "query-status", PAUSED_STATUS);
  qmp_fake_server_send_event (f->server, "WATCHDOG", "{\"action\": \"reset\"}");
  qmp_fake_server_send_event (f->server, "GUEST_PANICKED", "{\"action\": \"run\"}");
  qmp_fake_server_send_event (f->server, "STOP", NULL);
  spin_until_log (f, 6);
  qmp_fake_server_send_event (f->server, "RESUME", NULL);
  qmp_fake_server_send_event (f->server, "WATCHDOG", "{\"action\": \"pause\"}");
  qmp_fake_server_send_event (f->server, "STOP", NULL);
  assert_log (f, expected);
}

/* The caller's own stop is the caller's: sent right after a cont (whose
 * RESUME comes between), and sent to a VM already paused for lack of
 * space (QEMU then sends no STOP, and the run state stays io-error). */
static void
test_own_stop (Fixture       *f,
               gconstpointer  data)
{
  const char *expected[] = {
    "reason paused-by-user",
    "reason running", "event RESUME", "reason paused-by-user", "event STOP",
    NULL
  };
  const char *on_nospace[] = {
    "reason paused-by-user",
    "reason running", "event RESUME", "reason paused-by-user", "event STOP",
    "reason running", "event RESUME",
    "event BLOCK_IO_ERROR", "reason nospace", "event STOP",
    "reason paused-by-user",
    /* The reconnection's resync reads io-status, as always. */
    "event BLOCK_IO_ERROR derived",
    "reason running", "event RESUME",
    NULL
  };
  g_autoptr(GAsyncResult) cont = NULL;
  g_autoptr(GAsyncResult) stop = NULL;
  g_autoptr(GError) error = NULL;
  QmpStopReason *reason;

  qmp_fake_server_set_reply (f->server, "query-status", PAUSED_STATUS);
  connect (f);
  qmp_fake_server_set_raw_reply (f->server, "cont",
                                 "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 1}, \"event\": \"RESUME\"}\r\n"
                                 "{\"return\": {}, \"id\": " QMP_FAKE_ID "}\r\n");
  qmp_fake_server_set_raw_reply (f->server, "stop",
                                 "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"STOP\"}\r\n"
                                 "{\"return\": {}, \"id\": " QMP_FAKE_ID "}\r\n");
  /* Back to back, in one write. */
  qmp_client_cont_async (f->client, NULL, qmp_test_store_result, &cont);
  qmp_client_stop_async (f->client, NULL, qmp_test_store_result, &stop);
  QMP_TEST_WAIT_FOR (cont != NULL && stop != NULL, WAIT_LIMIT_MS);
  g_assert_true (qmp_client_stop_finish (f->client, stop, &error));
  spin_until_log (f, 5);
  for (guint i = 0; i < 5; i++)
    g_assert_cmpstr (f->log->pdata[i], ==, expected[i]);

  /* Paused for lack of space, then by the caller: QEMU keeps io-error. */
  qmp_fake_server_send_event (f->server, "RESUME", NULL);
  qmp_fake_server_send_event (f->server, "BLOCK_IO_ERROR", NOSPACE_DATA);
  qmp_fake_server_send_event (f->server, "STOP", NULL);
  spin_until_log (f, 10);
  qmp_fake_server_set_reply (f->server, "stop", "{\"return\": {}}");
  g_assert_true (qmp_client_stop_sync (f->client, NULL, &error));
  g_assert_no_error (error);
  spin_until_log (f, 11);
  reason = qmp_client_get_stop_reason (f->client);
  g_assert_cmpint (qmp_stop_reason_get_kind (reason), ==, QMP_STOP_KIND_PAUSED_BY_USER);
  g_assert_cmpstr (qmp_stop_reason_get_run_state_string (reason), ==, "io-error");

  /* It stays the caller's across a reconnection, while QEMU keeps the VM
   * paused. */
  qmp_fake_server_set_reply (f->server, "query-status", IO_ERROR_STATUS);
  qmp_fake_server_set_reply (f->server, "query-block", PAUSED_NOSPACE_BLOCKS);
  g_assert_true (qmp_client_close_sync (f->client, NULL, NULL));
  connect (f);
  g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f->client)), ==,
                   QMP_STOP_KIND_PAUSED_BY_USER);
  qmp_fake_server_send_event (f->server, "RESUME", NULL);
  assert_log (f, on_nospace);
}

/* ::stop-reason-changed tells changes of a reason known before: the
 * first connect sets the reason without it (an agent that prints the
 * reason once connected prints it once); a reconnection that finds
 * another one emits it, and what the resync found is delivered before
 * qmp_client_connect_sync() returns. */
static void
test_changed_signal (Fixture       *f,
                     gconstpointer  data)
{
  qmp_fake_server_set_reply (f->server, "query-status", RUNNING_STATUS);
  connect (f);
  g_assert_cmpuint (f->n_changed, ==, 0);
  g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f->client)), ==, QMP_STOP_KIND_RUNNING);
  g_assert_cmpuint (f->log->len, ==, 1);

  /* Reconnected to the same state: no news. */
  g_assert_true (qmp_client_close_sync (f->client, NULL, NULL));
  connect (f);
  g_assert_cmpuint (f->n_changed, ==, 0);

  /* Paused meanwhile: told, and the derived error too, before the
   * connect returns (no main loop ran in between). */
  qmp_fake_server_set_reply (f->server, "query-status", IO_ERROR_STATUS);
  qmp_fake_server_set_reply (f->server, "query-block", PAUSED_NOSPACE_BLOCKS);
  g_assert_true (qmp_client_close_sync (f->client, NULL, NULL));
  connect (f);
  g_assert_cmpuint (f->n_changed, ==, 1);
  g_assert_cmpuint (f->log->len, ==, 3);
  g_assert_cmpstr (f->log->pdata[1], ==, "reason nospace");
  g_assert_cmpstr (f->log->pdata[2], ==, "event BLOCK_IO_ERROR derived");
}

static void
test_armed_memory (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpWriteThresholdEvent) threshold = NULL;

  qmp_fake_server_set_reply (f->server, "query-status", "{\"return\": {\"status\": \"running\", \"running\": true}}");
  qmp_fake_server_set_reply (f->server, "block-set-write-threshold", "{\"return\": {}}");
  qmp_fake_server_set_reply (f->server, "query-named-block-nodes",
                             "{\"return\": [{\"node-name\": \"a\", \"write_threshold\": 0},"
                             " {\"node-name\": \"b\", \"write_threshold\": 0}]}");
  g_signal_connect (f->client, "block-write-threshold", G_CALLBACK (capture_threshold), &threshold);
  connect (f);

  /* Armed through the client: remembered. Node a fires live: forgotten. */
  g_assert_true (qmp_client_set_write_threshold_sync (f->client, "a", 100, NULL, &error));
  g_assert_true (qmp_client_set_write_threshold_sync (f->client, "b", 200, NULL, &error));
  qmp_fake_server_send_event (f->server, "BLOCK_WRITE_THRESHOLD",
                              "{\"node-name\": \"a\", \"write-threshold\": 100, \"amount-exceeded\": 5}");
  spin_until_log (f, 2);
  g_assert_false (qmp_event_get_derived (QMP_EVENT (threshold)));

  /* Reconnecting: only b, which fired while away, is derived; the VM still
   * runs, which is no news. */
  g_assert_true (qmp_client_close_sync (f->client, NULL, NULL));
  connect (f);
  spin_until_log (f, 3);
  g_assert_cmpstr (f->log->pdata[2], ==, "event BLOCK_WRITE_THRESHOLD derived");
  g_assert_cmpstr (qmp_write_threshold_event_get_node_name (threshold), ==, "b");
  g_assert_cmpuint (qmp_write_threshold_event_get_write_threshold (threshold), ==, 200);
}

/* With -blockdev, io-status keeps saying nospace during a later EIO pause:
 * a client that saw the EIO live keeps it across a reconnection; a new
 * client can only go by io-status. */
static void
test_io_error_kept (Fixture       *f,
                    gconstpointer  data)
{
  const char *expected[] = {
    "reason running", "event BLOCK_IO_ERROR", "reason io-error", "event STOP",
    /* The same pause goes on: no news, but what the resync read. */
    "event BLOCK_IO_ERROR derived", NULL
  };
  g_autoptr(QmpBlockIoErrorEvent) io_error = NULL;
  g_autoptr(QmpClient) fresh = NULL;
  g_autoptr(GError) error = NULL;

  qmp_fake_server_set_reply (f->server, "query-status", "{\"return\": {\"status\": \"running\", \"running\": true}}");
  g_signal_connect (f->client, "block-io-error", G_CALLBACK (capture_io_error), &io_error);
  connect (f);
  qmp_fake_server_send_event (f->server, "BLOCK_IO_ERROR",
                              "{\"device\": \"\", \"nospace\": false, \"node-name\": \"data-fmt\","
                              " \"reason\": \"Input/output error\", \"operation\": \"write\", \"action\": \"stop\"}");
  qmp_fake_server_send_event (f->server, "STOP", NULL);
  spin_until_log (f, 4);

  qmp_fake_server_set_reply (f->server, "query-status", "{\"return\": {\"status\": \"io-error\", \"running\": false}}");
  qmp_fake_server_set_reply (f->server, "query-block", PAUSED_NOSPACE_BLOCKS);
  g_assert_true (qmp_client_close_sync (f->client, NULL, NULL));
  connect (f);
  assert_log (f, expected);
  g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f->client)), ==,
                   QMP_STOP_KIND_IO_ERROR);
  /* Still the reason seen live, with the time the pause began. */
  g_assert_false (qmp_stop_reason_get_derived (qmp_client_get_stop_reason (f->client)));
  g_assert_cmpint (qmp_stop_reason_get_since_usec (qmp_client_get_stop_reason (f->client)), >, 0);
  g_assert_true (qmp_event_get_derived (QMP_EVENT (io_error)));
  g_assert_false (qmp_block_io_error_event_get_nospace (io_error));
  g_assert_cmpstr (qmp_block_io_error_event_get_node_name (io_error), ==, "data-fmt");

  g_assert_true (qmp_client_close_sync (f->client, NULL, NULL));
  fresh = qmp_client_new (qmp_fake_server_get_address (f->server));
  g_assert_true (qmp_client_connect_sync (fresh, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (fresh)), ==,
                   QMP_STOP_KIND_NOSPACE);
}

static void
on_reconnected (QmpClient *client,
                gboolean   new_instance,
                gpointer   user_data)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->log, g_strdup_printf ("reconnected%s", new_instance ? " new" : ""));
}

static void
on_disconnected (QmpClient *client,
                 GError    *error,
                 gpointer   user_data)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->log, g_strdup ("disconnected"));
}

static void
count_closed (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = qmp_client_execute_finish (QMP_CLIENT (source), result, &error);

  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  (*(guint *) user_data)++;
}

static void
setup_reconnect (Fixture *f)
{
  qmp_fake_server_set_reply (f->server, "query-status", "{\"return\": {\"status\": \"running\", \"running\": true}}");
  g_object_set (f->client, "reconnect-min-delay", 200, "reconnect-max-delay", 400, NULL);
  qmp_client_set_auto_reconnect (f->client, TRUE);
  g_assert_true (qmp_client_get_auto_reconnect (f->client));
  g_signal_connect (f->client, "reconnected", G_CALLBACK (on_reconnected), f);
  g_signal_connect (f->client, "disconnected", G_CALLBACK (on_disconnected), f);
  connect (f);
  spin_until_log (f, 1);
}

/* The connection drops: the command in flight fails once, never re-sent;
 * the client comes back READY on its own after the backoff. */
static void
test_reconnect (Fixture       *f,
                gconstpointer  data)
{
  const char *expected[] = { "reason running", "disconnected", "reconnected", NULL };
  guint n_closed = 0, n_slow = 0;
  gint64 lost;
  g_autoptr(JsonObject) request = NULL;

  setup_reconnect (f);
  qmp_fake_server_hold (f->server, "slow");
  qmp_client_execute_async (f->client, "slow", NULL, NULL, count_closed, &n_closed);
  while (qmp_client_get_n_pending (f->client) > 0 && n_slow == 0)
    {
      g_main_context_iteration (NULL, TRUE);
      while ((request = qmp_fake_server_pop_request (f->server, 0)) != NULL)
        {
          n_slow += g_str_equal (json_object_get_string_member (request, "execute"), "slow");
          g_clear_pointer (&request, json_object_unref);
        }
    }
  lost = g_get_monotonic_time ();
  qmp_fake_server_close_client (f->server);
  assert_log (f, expected);
  /* Half the first delay at least (jitter), well under the maximum. */
  g_assert_cmpint (g_get_monotonic_time () - lost, >=, 100 * 1000);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_READY);
  g_assert_cmpuint (n_closed, ==, 1);
  g_assert_cmpuint (qmp_fake_server_get_n_connections (f->server), ==, 2);
  while ((request = qmp_fake_server_pop_request (f->server, 20)) != NULL)
    {
      g_assert_cmpstr (json_object_get_string_member (request, "execute"), !=, "slow");
      g_clear_pointer (&request, json_object_unref);
    }
}

static void
test_reconnect_new_instance (Fixture       *f,
                             gconstpointer  data)
{
  const char *expected[] = { "reason running", "disconnected", "reconnected new", NULL };
  g_autoptr(GError) error = NULL;
  guint n_nodes_queries = 0;
  g_autoptr(JsonObject) request = NULL;

  /* A threshold armed on the old QEMU; the new one has none. */
  qmp_fake_server_set_reply (f->server, "block-set-write-threshold", "{\"return\": {}}");
  qmp_fake_server_set_reply (f->server, "query-named-block-nodes",
                             "{\"return\": [{\"node-name\": \"data-file\", \"write_threshold\": 0}]}");
  setup_reconnect (f);
  g_assert_true (qmp_client_set_write_threshold_sync (f->client, "data-file", 1048576, NULL, &error));
  g_assert_no_error (error);
  qmp_fake_server_restart (f->server);
  /* Lost with the old QEMU: not fired, not derived, not asked about. */
  assert_log (f, expected);
  while ((request = qmp_fake_server_pop_request (f->server, 20)) != NULL)
    {
      n_nodes_queries += g_str_equal (json_object_get_string_member (request, "execute"), "query-named-block-nodes");
      g_clear_pointer (&request, json_object_unref);
    }
  g_assert_cmpuint (n_nodes_queries, ==, 0);

  /* Armed again on the new one, lost over a plain reconnection: derived. */
  g_assert_true (qmp_client_set_write_threshold_sync (f->client, "data-file", 1048576, NULL, &error));
  qmp_fake_server_close_client (f->server);
  {
    const char *more[] = {
      "reason running", "disconnected", "reconnected new",
      "disconnected", "event BLOCK_WRITE_THRESHOLD derived", "reconnected",
      NULL
    };

    assert_log (f, more);
  }
}

/* Closing stops the attempts; no timer is left behind. */
static void
test_reconnect_stops_on_close (Fixture       *f,
                               gconstpointer  data)
{
  const char *expected[] = { "reason running", "disconnected", NULL };
  gint64 deadline;

  setup_reconnect (f);
  qmp_fake_server_close_client (f->server);
  spin_until_log (f, 2);
  g_assert_true (qmp_client_close_sync (f->client, NULL, NULL));
  deadline = g_get_monotonic_time () + 800 * 1000;
  while (g_get_monotonic_time () < deadline)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (10 * 1000);
    }
  assert_log (f, expected);
  g_assert_cmpuint (qmp_fake_server_get_n_connections (f->server), ==, 1);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_CLOSED);
}

/* The delay the client chose for its next attempt, from its debug
 * message: what it decided, whatever a slow machine adds to it. */
static void
capture_delay (const char     *domain,
               GLogLevelFlags  level,
               const char     *message,
               gpointer        user_data)
{
  GArray *delays = user_data;
  guint64 delay;
  const char *at = strstr (message, ": reconnecting in ");

  if (at == NULL)
    return;
  delay = g_ascii_strtoull (at + strlen (": reconnecting in "), NULL, 10);
  g_array_append_val (delays, delay);
}

/* The delays between attempts: attempt n waits between half and all of
 * min (max, min-delay * 2^n); a success starts again from min-delay. The
 * delays the client chose are checked exactly, the real waits from below
 * only: a loaded host may add to them, never take away. */
static void
test_reconnect_backoff (Fixture       *f,
                        gconstpointer  data)
{
  const guint min_delay = 100, max_delay = 800;
  const guint expected_delays[] = { 100, 200, 400, 800, 800 };
  g_autoptr(GArray) delays = g_array_new (FALSE, FALSE, sizeof (guint64));
  guint handler;
  gint64 dropped;

  setup_reconnect (f);
  g_object_set (f->client, "reconnect-min-delay", min_delay, "reconnect-max-delay", max_delay, NULL);
  handler = g_log_set_handler ("Qmp", G_LOG_LEVEL_DEBUG, capture_delay, delays);

  /* Connections that never greet: every attempt fails. */
  qmp_fake_server_set_greeting (f->server, NULL);
  dropped = g_get_monotonic_time ();
  qmp_fake_server_close_client (f->server);
  qmp_fake_server_flush (f->server);
  for (guint i = 0; i < G_N_ELEMENTS (expected_delays); i++)
    {
      gint64 waited;
      guint64 chosen;

      qmp_fake_server_wait_connections (f->server, i + 2, WAIT_LIMIT_MS);
      waited = (g_get_monotonic_time () - dropped) / 1000;
      g_assert_cmpuint (delays->len, ==, i + 1);
      chosen = g_array_index (delays, guint64, i);
      g_test_message ("attempt %u after %" G_GUINT64_FORMAT " ms, waited %" G_GINT64_FORMAT " ms "
                      "(expected %u to %u)", i + 1, chosen, waited, expected_delays[i] / 2, expected_delays[i]);
      g_assert_cmpuint (chosen, >=, expected_delays[i] / 2);
      g_assert_cmpuint (chosen, <=, expected_delays[i]);
      g_assert_cmpint (waited, >=, expected_delays[i] / 2);
      dropped = g_get_monotonic_time ();
      qmp_fake_server_close_client (f->server);
      qmp_fake_server_flush (f->server);
    }

  /* Back: ready again, and the next loss starts from the shortest delay. */
  qmp_fake_server_set_greeting (f->server, QMP_FAKE_GREETING);
  QMP_TEST_WAIT_FOR (qmp_client_get_state (f->client) == QMP_CLIENT_STATE_READY, WAIT_LIMIT_MS);
  g_assert_cmpuint (qmp_fake_server_get_n_connections (f->server), ==, G_N_ELEMENTS (expected_delays) + 2);
  qmp_fake_server_close_client (f->server);
  qmp_fake_server_wait_connections (f->server, G_N_ELEMENTS (expected_delays) + 3, WAIT_LIMIT_MS);
  /* The attempt that got through was scheduled after the last failure;
   * the one after the loss is the latest. */
  g_assert_cmpuint (delays->len, ==, G_N_ELEMENTS (expected_delays) + 2);
  g_assert_cmpuint (g_array_index (delays, guint64, delays->len - 1), >=, min_delay / 2);
  g_assert_cmpuint (g_array_index (delays, guint64, delays->len - 1), <=, min_delay);
  QMP_TEST_WAIT_FOR (qmp_client_get_state (f->client) == QMP_CLIENT_STATE_READY, WAIT_LIMIT_MS);
  g_log_remove_handler ("Qmp", handler);
}

/* ------------------------------------------------------------------------ */
/* The connection dropped at every step of connecting */

typedef enum {
  DROP_GREETING,
  DROP_NEGOTIATION,
  DROP_STATUS,
  DROP_BLOCK,
  DROP_NODES,
} DropStep;

/* The command in flight when the connection drops, by step; the reply it
 * gets once the drop was done. NULL: the greeting never comes. */
static const struct {
  const char *command;
  const char *reply;
} drop_steps[] = {
  [DROP_GREETING] = { NULL, NULL },
  [DROP_NEGOTIATION] = { "qmp_capabilities", NULL },
  [DROP_STATUS] = { "query-status", "{\"return\": {\"status\": \"io-error\", \"running\": false}}" },
  [DROP_BLOCK] = { "query-block", PAUSED_NOSPACE_BLOCKS },
  [DROP_NODES] = { "query-named-block-nodes",
                   "{\"return\": [{\"node-name\": \"data-file\", \"drv\": \"file\", \"write_threshold\": 0}]}" },
};

static void
on_state (QmpClient  *client,
          GParamSpec *pspec,
          gpointer    user_data)
{
  Fixture *f = user_data;
  g_autoptr(GEnumClass) klass = g_type_class_ref (QMP_TYPE_CLIENT_STATE);

  g_ptr_array_add (f->log, g_strdup_printf ("state %s",
                                            g_enum_get_value (klass, qmp_client_get_state (client))->value_nick));
}

/* A VM paused on a full disk, with an armed threshold that fired: every
 * step of the resync has something to ask. */
static void
serve_paused_vm (Fixture *f)
{
  for (guint i = DROP_STATUS; i < G_N_ELEMENTS (drop_steps); i++)
    qmp_fake_server_set_reply (f->server, drop_steps[i].command, drop_steps[i].reply);
  qmp_client_declare_write_threshold (f->client, "data-file", 1048576);
}

/* Makes the next connection stall at @step. */
static void
drop_arm (Fixture  *f,
          DropStep  step)
{
  if (step == DROP_GREETING)
    qmp_fake_server_set_greeting (f->server, NULL);
  else
    qmp_fake_server_hold (f->server, drop_steps[step].command);
}

/* Waits until connection number @n stalls at @step, sends an event in the
 * middle of it (when it can be read), drops it, and serves the next
 * connection normally. */
static void
drop_at (Fixture  *f,
         DropStep  step,
         guint     n)
{
  qmp_fake_server_wait_connections (f->server, n, WAIT_LIMIT_MS);
  if (step != DROP_GREETING)
    {
      gint64 deadline = g_get_monotonic_time () + WAIT_LIMIT_MS * 1000;

      for (;;)
        {
          g_autoptr(JsonObject) request = qmp_fake_server_wait_request (f->server, WAIT_LIMIT_MS);

          g_assert_nonnull (request);
          if (g_str_equal (json_object_get_string_member (request, "execute"), drop_steps[step].command))
            break;
          g_assert_cmpint (g_get_monotonic_time (), <, deadline);
        }
      /* query-status goes out with qmp_capabilities: the client is
       * syncing once it has read the reply to that. */
      if (step >= DROP_STATUS)
        QMP_TEST_WAIT_FOR (qmp_client_get_state (f->client) == QMP_CLIENT_STATE_SYNCING, WAIT_LIMIT_MS);
      qmp_fake_server_send_event (f->server, "RTC_CHANGE", "{\"offset\": 1}");
    }
  qmp_fake_server_close_client (f->server);
  qmp_fake_server_flush (f->server);
  if (step == DROP_GREETING)
    qmp_fake_server_set_greeting (f->server, QMP_FAKE_GREETING);
  else if (drop_steps[step].reply != NULL)
    qmp_fake_server_set_reply (f->server, drop_steps[step].command, drop_steps[step].reply);
  else
    qmp_fake_server_unset_reply (f->server, drop_steps[step].command);
}

static void
count_not_connected (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = qmp_client_execute_finish (QMP_CLIENT (source), result, &error);

  g_assert_error (error, QMP_ERROR, QMP_ERROR_NOT_CONNECTED);
  (*(guint *) user_data)++;
}

/* Without auto-reconnect: the connect fails once with CLOSED, the client
 * is DISCONNECTED as if it had never been connected, learnt nothing, told
 * nothing; the next connect resyncs from scratch. */
static void
test_drop_connect (Fixture       *f,
                   gconstpointer  data)
{
  DropStep step = GPOINTER_TO_UINT (data);
  const char *expected[] = {
    /* The first reason a client learns is set by the resync itself. */
    "state connecting", "state negotiating", "state syncing", "reason nospace", "state ready",
    "event BLOCK_IO_ERROR derived", "event BLOCK_WRITE_THRESHOLD derived",
    NULL
  };
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  guint n_refused = 0;

  serve_paused_vm (f);
  g_signal_connect (f->client, "disconnected", G_CALLBACK (on_disconnected), f);
  drop_arm (f, step);
  qmp_client_connect_async (f->client, NULL, qmp_test_store_result, &result);
  if (step >= DROP_NEGOTIATION)
    {
      /* Once the greeting is read, the caller's commands are refused
       * until the client is ready, never queued behind the resync. */
      qmp_fake_server_wait_connections (f->server, 1, WAIT_LIMIT_MS);
      QMP_TEST_WAIT_FOR (qmp_client_get_state (f->client) >= QMP_CLIENT_STATE_NEGOTIATING, WAIT_LIMIT_MS);
      qmp_client_execute_async (f->client, "query-status", NULL, NULL, count_not_connected, &n_refused);
    }
  drop_at (f, step, 1);
  g_assert_false (qmp_client_connect_finish (f->client, qmp_test_wait_result (&result, WAIT_LIMIT_MS), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_DISCONNECTED);
  g_assert_null (qmp_client_get_stop_reason (f->client));
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (n_refused, ==, step >= DROP_NEGOTIATION ? 1 : 0);
  /* Never ready, so never disconnected; and what was read of a failed
   * connection is not delivered: it would come before the state it
   * belongs to. */
  spin_until_log (f, 0);

  g_signal_connect (f->client, "notify::state", G_CALLBACK (on_state), f);
  connect (f);
  assert_log (f, expected);
  g_assert_cmpuint (qmp_fake_server_get_n_connections (f->server), ==, 2);
}

static void
count_closed_once (GObject      *source,
                   GAsyncResult *result,
                   gpointer      user_data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = qmp_client_execute_finish (QMP_CLIENT (source), result, &error);

  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  (*(guint *) user_data)++;
}

/* With auto-reconnect: the connection of a ready client drops with a
 * command in flight, and the first attempt to come back drops at @step.
 * The command fails once, ::disconnected and ::reconnected come once each,
 * and what was missed is derived once, by the attempt that succeeded. */
static void
test_drop_reconnect (Fixture       *f,
                     gconstpointer  data)
{
  DropStep step = GPOINTER_TO_UINT (data);
  const char *failed[] = { "state connecting", "state negotiating", "state syncing" };
  const char *after[] = {
    "state disconnected",
    "state connecting", "state negotiating", "state syncing", "state ready",
    "reason nospace", "event BLOCK_IO_ERROR derived", "event BLOCK_WRITE_THRESHOLD derived",
    "reconnected",
  };
  g_autoptr(GPtrArray) expected = g_ptr_array_new ();
  g_autoptr(JsonObject) request = NULL;
  guint n_closed = 0;

  qmp_fake_server_set_reply (f->server, "query-status", "{\"return\": {\"status\": \"running\", \"running\": true}}");
  qmp_fake_server_set_reply (f->server, "query-named-block-nodes",
                             "{\"return\": [{\"node-name\": \"data-file\", \"write_threshold\": 1048576}]}");
  qmp_client_declare_write_threshold (f->client, "data-file", 1048576);
  g_object_set (f->client, "auto-reconnect", TRUE, "reconnect-min-delay", 20, "reconnect-max-delay", 40, NULL);
  connect (f);
  spin_until_log (f, 1);
  g_ptr_array_set_size (f->log, 0);
  g_signal_connect (f->client, "notify::state", G_CALLBACK (on_state), f);
  g_signal_connect (f->client, "reconnected", G_CALLBACK (on_reconnected), f);
  g_signal_connect (f->client, "disconnected", G_CALLBACK (on_disconnected), f);

  qmp_fake_server_hold (f->server, "slow");
  qmp_client_execute_async (f->client, "slow", NULL, NULL, count_closed_once, &n_closed);
  for (;;)
    {
      g_autoptr(JsonObject) seen = qmp_fake_server_wait_request (f->server, WAIT_LIMIT_MS);

      g_assert_nonnull (seen);
      if (g_str_equal (json_object_get_string_member (seen, "execute"), "slow"))
        break;
    }

  /* Meanwhile the VM ran out of space. */
  serve_paused_vm (f);
  drop_arm (f, step);
  qmp_fake_server_close_client (f->server);
  drop_at (f, step, 2);

  /* The failed attempt got as far as the step. */
  g_ptr_array_add (expected, "state closed");
  g_ptr_array_add (expected, "disconnected");
  for (guint i = 0; i < G_N_ELEMENTS (failed) && i <= MIN (step, DROP_STATUS); i++)
    g_ptr_array_add (expected, (gpointer) failed[i]);
  for (guint i = 0; i < G_N_ELEMENTS (after); i++)
    g_ptr_array_add (expected, (gpointer) after[i]);
  g_ptr_array_add (expected, NULL);
  assert_log (f, (const char * const *) expected->pdata);

  g_assert_cmpuint (n_closed, ==, 1);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_READY);
  g_assert_cmpuint (qmp_fake_server_get_n_connections (f->server), ==, 3);
  /* Never sent again. */
  while ((request = qmp_fake_server_pop_request (f->server, 20)) != NULL)
    {
      g_assert_cmpstr (json_object_get_string_member (request, "execute"), !=, "slow");
      g_clear_pointer (&request, json_object_unref);
    }
}

/* An event storm while the resync waits for a reply (3,000 events, more
 * than the client queues before it stops reading): the resync still gets
 * its reply at once, and the events follow it, all of them, in order. */
static void
test_storm_during_resync (Fixture       *f,
                          gconstpointer  data)
{
  const guint n_events = 3000;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GString) storm = g_string_new (NULL);
  JsonObject *request;
  guint n_checked = 0;

  qmp_fake_server_hold (f->server, "query-status");
  qmp_client_connect_async (f->client, NULL, qmp_test_store_result, &result);
  do
    {
      request = qmp_fake_server_wait_request (f->server, WAIT_LIMIT_MS);
      if (!g_str_equal (json_object_get_string_member (request, "execute"), "query-status"))
        g_clear_pointer (&request, json_object_unref);
    }
  while (request == NULL);

  for (guint i = 0; i < n_events; i++)
    g_string_append_printf (storm, "{\"timestamp\": {\"seconds\": 1795358840, \"microseconds\": %u},"
                            " \"event\": \"RTC_CHANGE\", \"data\": {\"offset\": %u}}\r\n", i, i);
  qmp_fake_server_send (f->server, storm->str);
  qmp_fake_server_reply (f->server, request, "{\"status\": \"running\", \"running\": true}");
  json_object_unref (request);

  g_assert_true (qmp_client_connect_finish (f->client, qmp_test_wait_result (&result, 5000), &error));
  g_assert_no_error (error);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_READY);
  QMP_TEST_WAIT_FOR (f->log->len >= n_events + 1, WAIT_LIMIT_MS);
  g_assert_cmpstr (f->log->pdata[0], ==, "reason running");
  for (guint i = 1; i < f->log->len; i++)
    {
      g_assert_cmpstr (f->log->pdata[i], ==, "event RTC_CHANGE");
      n_checked++;
    }
  g_assert_cmpuint (n_checked, ==, n_events);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add ("/qmp/resync/" path, Fixture, NULL, setup, func, teardown)
  ADD ("not-applicable", test_not_applicable);
  ADD ("running", test_running);
  ADD ("status-answered-first", test_status_answered_first);
  ADD ("paused-nospace", test_paused_nospace);
  ADD ("derived-payloads", test_derived_payloads);
  ADD ("live", test_live);
  ADD ("throttled-error", test_throttled_error);
  ADD ("late-error-after-resume", test_late_error_after_resume);
  ADD ("cause-only-for-its-stop", test_cause_only_for_its_stop);
  ADD ("own-stop", test_own_stop);
  ADD ("changed-signal", test_changed_signal);
  ADD ("armed-memory", test_armed_memory);
  ADD ("io-error-kept", test_io_error_kept);
  ADD ("reconnect", test_reconnect);
  ADD ("reconnect-new-instance", test_reconnect_new_instance);
  ADD ("reconnect-stops-on-close", test_reconnect_stops_on_close);
  ADD ("reconnect-backoff", test_reconnect_backoff);
  ADD ("storm-during-resync", test_storm_during_resync);
#undef ADD

  {
    const char *names[] = {
      [DROP_GREETING] = "greeting", [DROP_NEGOTIATION] = "negotiation",
      [DROP_STATUS] = "query-status",
      [DROP_BLOCK] = "query-block", [DROP_NODES] = "query-named-block-nodes",
    };

    for (guint i = 0; i < G_N_ELEMENTS (names); i++)
      {
        g_autofree char *on_connect = g_strdup_printf ("/qmp/resync/drop/connect/%s", names[i]);
        g_autofree char *on_reconnect = g_strdup_printf ("/qmp/resync/drop/reconnect/%s", names[i]);

        g_test_add (on_connect, Fixture, GUINT_TO_POINTER (i), setup, test_drop_connect, teardown);
        g_test_add (on_reconnect, Fixture, GUINT_TO_POINTER (i), setup, test_drop_reconnect, teardown);
      }
  }

  return g_test_run ();
}
