/* test-qemu.c: QmpClient against a real QEMU
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include <qmpthin/qmpthin.h>

#include "qemu-rig.h"
#include "qmp-test-util.h"

#define WAIT_LIMIT_MS 30000

typedef struct {
  QmpTestQemu *qemu;
  QmpClient *client;
  GPtrArray *log;
  guint n_disconnected;
  GError *disconnect_error;
} Fixture;

static void
on_event (QmpClient *client,
          QmpEvent  *event,
          gpointer   user_data)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->log, g_strdup (qmp_event_get_name (event)));
}

static void
on_disconnected (QmpClient *client,
                 GError    *error,
                 gpointer   user_data)
{
  Fixture *f = user_data;

  f->n_disconnected++;
  g_clear_error (&f->disconnect_error);
  f->disconnect_error = error ? g_error_copy (error) : NULL;
}

static void
iterate_until (gboolean (*done) (Fixture *f),
               Fixture  *f)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_LIMIT_MS * 1000;

  while (!done (f))
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->log = g_ptr_array_new_with_free_func (g_free);
  if (!qmp_test_qemu_require ())
    return;
  f->qemu = qmp_test_qemu_start ((const char * const *) data);
  f->client = qmp_client_new (qmp_test_qemu_get_address (f->qemu));
  g_signal_connect (f->client, "event", G_CALLBACK (on_event), f);
  g_signal_connect (f->client, "disconnected", G_CALLBACK (on_disconnected), f);
  qmp_client_connect_sync (f->client, NULL, &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->client);
  g_clear_pointer (&f->qemu, qmp_test_qemu_free);
  g_ptr_array_unref (f->log);
  g_clear_error (&f->disconnect_error);
}

static void
test_greeting (Fixture       *f,
               gconstpointer  data)
{
  if (f->client == NULL)
    return;
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_READY);
  g_assert_cmpuint (qmp_client_get_qemu_major (f->client), ==, 7);
  g_assert_cmpuint (qmp_client_get_qemu_minor (f->client), ==, 2);
  g_assert_true (g_str_has_prefix (qmp_client_get_qemu_version (f->client), "7.2."));
  g_assert_nonnull (qmp_client_get_qemu_package (f->client));
  g_assert_true (qmp_client_has_capability (f->client, "oob"));
}

static void
test_query_status (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = NULL;
  g_autoptr(QmpStatusInfo) info = NULL;
  JsonObject *object;

  if (f->client == NULL)
    return;
  /* Started with -S: not running yet. */
  value = qmp_client_execute_sync (f->client, "query-status", NULL, NULL, &error);
  g_assert_no_error (error);
  object = json_node_get_object (value);
  g_assert_cmpstr (json_object_get_string_member (object, "status"), ==, "prelaunch");
  g_assert_false (json_object_get_boolean_member (object, "running"));

  info = qmp_client_query_status_sync (f->client, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (qmp_status_info_get_status (info), ==, QMP_RUN_STATE_PRELAUNCH);
  g_assert_false (qmp_status_info_get_running (info));
}

static void
test_errors (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) arguments = json_object_new ();
  g_autoptr(JsonNode) value = NULL;

  if (f->client == NULL)
    return;
  value = qmp_client_execute_sync (f->client, "no-such-command", NULL, NULL, &error);
  g_assert_null (value);
  g_assert_error (error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_COMMAND_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "The command no-such-command has not been found");
  g_assert_cmpstr (qmp_command_error_get_class_name (error), ==, "CommandNotFound");
  g_clear_error (&error);

  json_object_set_boolean_member (arguments, "bogus", TRUE);
  value = qmp_client_execute_sync (f->client, "query-status", arguments, NULL, &error);
  g_assert_null (value);
  g_assert_error (error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_GENERIC_ERROR);
  g_assert_cmpstr (error->message, ==, "Parameter 'bogus' is unexpected");
  g_clear_error (&error);

  /* QEMU refuses a second negotiation; the connection stays up. */
  value = qmp_client_execute_sync (f->client, "qmp_capabilities", NULL, NULL, &error);
  g_assert_error (error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_COMMAND_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "Capabilities negotiation is already complete, command ignored");
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_READY);
}

typedef struct {
  guint n_done;
  guint n_ok;
} Counter;

static void
count_ready (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  Counter *counter = user_data;
  g_autoptr(JsonNode) value = qmp_client_execute_finish (QMP_CLIENT (source), result, NULL);

  counter->n_done++;
  if (value != NULL && JSON_NODE_HOLDS_OBJECT (value) &&
      json_object_has_member (json_node_get_object (value), "status"))
    counter->n_ok++;
}

static void
run_in_flight (QmpClient *client,
               guint      n,
               Counter   *counter)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_LIMIT_MS * 1000;

  for (guint i = 0; i < n; i++)
    qmp_client_execute_async (client, "query-status", NULL, NULL, count_ready, counter);
  while (counter->n_done < n)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
}

static void
test_in_flight (Fixture       *f,
                gconstpointer  data)
{
  Counter counter = { 0, 0 };
  gint64 start;
  double elapsed;

  if (f->client == NULL)
    return;
  run_in_flight (f->client, 200, &counter);
  g_assert_cmpuint (counter.n_ok, ==, 200);
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);

  /* Not a timed test: the figure is reported, never asserted. */
  counter.n_done = counter.n_ok = 0;
  start = g_get_monotonic_time ();
  run_in_flight (f->client, 1000, &counter);
  elapsed = (g_get_monotonic_time () - start) / 1e6;
  g_assert_cmpuint (counter.n_ok, ==, 1000);
  g_test_message ("1000 pipelined query-status against QEMU: %.3f s (%.0f commands/s)",
                  elapsed, 1000 / elapsed);
}

static gboolean
seen_one_event (Fixture *f)
{
  return f->log->len >= 1;
}

static gboolean
seen_two_events (Fixture *f)
{
  return f->log->len >= 2;
}

static void
test_stop_cont (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpStatusInfo) info = NULL;

  if (f->client == NULL)
    return;
  g_assert_true (qmp_client_cont_sync (f->client, NULL, &error));
  g_assert_no_error (error);
  iterate_until (seen_one_event, f);
  g_assert_cmpstr (f->log->pdata[0], ==, "RESUME");

  g_assert_true (qmp_client_stop_sync (f->client, NULL, &error));
  g_assert_no_error (error);
  iterate_until (seen_two_events, f);
  g_assert_cmpstr (f->log->pdata[1], ==, "STOP");

  info = qmp_client_query_status_sync (f->client, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (qmp_status_info_get_status (info), ==, QMP_RUN_STATE_PAUSED);
}

static gboolean
is_disconnected (Fixture *f)
{
  return f->n_disconnected > 0;
}

static void
test_quit (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = NULL;
  guint shutdown_index;

  if (f->client == NULL)
    return;
  qmp_client_execute_async (f->client, "quit", NULL, NULL, qmp_test_store_result, &result);
  iterate_until (is_disconnected, f);
  g_assert_nonnull (result);

  /* QEMU sends SHUTDOWN before its reply, then closes (EOF or reset): the
   * reply may be lost, but the call completes exactly once. */
  value = qmp_client_execute_finish (f->client, result, &error);
  if (value == NULL)
    g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_cmpuint (f->log->len, >=, 1);
  shutdown_index = f->log->len - 1;
  g_assert_cmpstr (f->log->pdata[shutdown_index], ==, "SHUTDOWN");
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_CLOSED);
  g_assert_error (f->disconnect_error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_true (qmp_test_qemu_wait_exit (f->qemu, 10000));

  /* Exactly once. */
  for (guint i = 0; i < 20; i++)
    g_main_context_iteration (NULL, FALSE);
  g_assert_cmpuint (f->n_disconnected, ==, 1);
}

static void
test_second_client (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(QmpClient) second = NULL;
  g_autoptr(QmpClient) third = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = NULL;

  if (f->client == NULL)
    return;
  second = qmp_client_new (qmp_test_qemu_get_address (f->qemu));
  qmp_client_set_connect_timeout (second, 1000);
  g_assert_false (qmp_client_connect_sync (second, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "another client"));
  g_clear_error (&error);

  /* The first client is unaffected. */
  value = qmp_client_execute_sync (f->client, "query-status", NULL, NULL, &error);
  g_assert_no_error (error);

  /* Once it leaves, a new client gets its greeting. */
  g_assert_true (qmp_client_close_sync (f->client, NULL, NULL));
  third = qmp_client_new (qmp_test_qemu_get_address (f->qemu));
  g_assert_true (qmp_client_connect_sync (third, NULL, &error));
  g_assert_no_error (error);
  g_clear_pointer (&value, json_node_unref);
  value = qmp_client_execute_sync (third, "query-status", NULL, NULL, &error);
  g_assert_no_error (error);
}

int
main (int    argc,
      char **argv)
{
  static const char *machine_none[] = { "-machine", "none", "-S", NULL };

  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/qmp/qemu/" path, Fixture, machine_none, fixture_setup, func, fixture_teardown)

  ADD ("greeting", test_greeting);
  ADD ("query-status", test_query_status);
  ADD ("errors", test_errors);
  ADD ("in-flight", test_in_flight);
  ADD ("stop-cont", test_stop_cont);
  ADD ("quit", test_quit);
  ADD ("second-client", test_second_client);

  return g_test_run ();
}
