/* test-client.c: QmpClient against a scripted QMP server
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include <glib/gstdio.h>

#include <qmpthin/qmpthin.h>

#include "qmp-fake-server.h"
#include "qmp-test-util.h"

#define WAIT_LIMIT_MS 10000

/* ------------------------------------------------------------------------ */
/* Waiting: always on a condition, never longer than WAIT_LIMIT_MS. */

/* Runs the default main context until @expr holds; fails the test after
 * WAIT_LIMIT_MS instead of hanging. */
#define WAIT_FOR(expr) QMP_TEST_WAIT_FOR (expr, WAIT_LIMIT_MS)

static GAsyncResult *
wait_result (GAsyncResult **slot)
{
  WAIT_FOR (*slot != NULL);
  return *slot;
}

/* Runs what is ready (idles, deferred callbacks) until nothing is: after
 * the connection is gone nothing else can arrive, so this shows that
 * nothing more was going to happen. */
static void
drain_context (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

/* Sleeps in the main loop, for tests that show something does NOT happen
 * within a time. */
static gboolean
on_quit_loop (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

static void
run_for (guint ms)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);

  g_timeout_add (ms, on_quit_loop, loop);
  g_main_loop_run (loop);
}

static JsonObject *
object_from (const char *text)
{
  g_autoptr(JsonNode) node = json_from_string (text, NULL);

  g_assert_nonnull (node);
  return json_object_ref (json_node_get_object (node));
}

/* ------------------------------------------------------------------------ */
/* The fixture: a fake server and a client, connected or not. */

typedef struct {
  QmpFakeServer *server;
  QmpClient *client;
  GArray *states;               /* QmpClientState, from notify::state */
  GPtrArray *notified;          /* char*: other properties notified */
  GPtrArray *log;               /* char*: deliveries, in order */
  guint n_disconnected;
  GError *disconnect_error;     /* of the last ::disconnected */
} Fixture;

static void
on_state (GObject    *object,
          GParamSpec *pspec,
          gpointer    user_data)
{
  Fixture *f = user_data;
  QmpClientState state = qmp_client_get_state (QMP_CLIENT (object));

  g_array_append_val (f->states, state);
}

static void
on_notify (GObject    *object,
           GParamSpec *pspec,
           gpointer    user_data)
{
  Fixture *f = user_data;

  if (!g_str_equal (pspec->name, "state"))
    g_ptr_array_add (f->notified, g_strdup (pspec->name));
}

static void
on_event_log (QmpClient *client,
              QmpEvent  *event,
              gpointer   user_data)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->log, g_strdup_printf ("event %s", qmp_event_get_name (event)));
}

static void
on_disconnected (QmpClient *client,
                 GError    *error,
                 gpointer   user_data)
{
  Fixture *f = user_data;

  f->n_disconnected++;
  g_clear_error (&f->disconnect_error);
  if (error != NULL)
    f->disconnect_error = g_error_copy (error);
  g_ptr_array_add (f->log, g_strdup ("disconnected"));
}

static void
fixture_setup_unconnected (Fixture       *f,
                           gconstpointer  data)
{
  f->server = qmp_fake_server_new ();
  f->states = g_array_new (FALSE, FALSE, sizeof (QmpClientState));
  f->notified = g_ptr_array_new_with_free_func (g_free);
  f->log = g_ptr_array_new_with_free_func (g_free);
  f->client = qmp_client_new (qmp_fake_server_get_address (f->server));
  g_signal_connect (f->client, "notify::state", G_CALLBACK (on_state), f);
  g_signal_connect (f->client, "notify", G_CALLBACK (on_notify), f);
  g_signal_connect (f->client, "event", G_CALLBACK (on_event_log), f);
  g_signal_connect (f->client, "disconnected", G_CALLBACK (on_disconnected), f);
}

/* Forgets the requests the client made while connecting. */
static void
drop_requests (QmpFakeServer *server)
{
  JsonObject *request;

  while ((request = qmp_fake_server_pop_request (server, 0)) != NULL)
    json_object_unref (request);
}

static void
fixture_connect (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (qmp_client_connect_sync (f->client, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_READY);
  /* Connecting returned after the last reply of the resync, so the server
   * has every request of it. */
  drop_requests (f->server);
  g_array_set_size (f->states, 0);
  g_ptr_array_set_size (f->notified, 0);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  fixture_setup_unconnected (f, data);
  fixture_connect (f);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->client);
  drain_context ();
  qmp_fake_server_free (f->server);
  g_array_unref (f->states);
  g_ptr_array_unref (f->notified);
  g_ptr_array_unref (f->log);
  g_clear_error (&f->disconnect_error);
}

/* Sends one command and returns the request as the server received it;
 * the caller's callback gets the result. */
static JsonObject *
execute_and_wait_request (Fixture             *f,
                          const char          *command,
                          GAsyncReadyCallback  callback,
                          gpointer             user_data)
{
  JsonObject *request;

  qmp_client_execute_async (f->client, command, NULL, NULL, callback, user_data);
  request = qmp_fake_server_wait_request (f->server, WAIT_LIMIT_MS);
  g_assert_cmpstr (json_object_get_string_member (request, "execute"), ==, command);
  return request;
}

/* A command whose reply is delivered through the ordered dispatch: once
 * it completes, everything the server sent before its reply was
 * delivered or dropped. */
static void
round_trip (Fixture *f)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = NULL;
  g_autoptr(JsonObject) request = NULL;

  qmp_fake_server_set_reply (f->server, "ping", "{\"return\": {\"pong\": true}}");
  request = execute_and_wait_request (f, "ping", qmp_test_store_result, &result);
  value = qmp_client_execute_finish (f->client, wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_true (json_object_get_boolean_member (json_node_get_object (value), "pong"));
}

/* Counts completions of many calls, and checks the error each got. */
typedef struct {
  guint n_done;
  GQuark domain;
  int code;
} Counter;

static void
count_failure (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Counter *counter = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = qmp_client_execute_finish (QMP_CLIENT (source), result, &error);

  g_assert_null (value);
  g_assert_error (error, counter->domain, counter->code);
  counter->n_done++;
}

/* ------------------------------------------------------------------------ */
/* Negotiation */

static void
test_negotiate (Fixture       *f,
                gconstpointer  data)
{
  const QmpClientState expected_states[] = {
    QMP_CLIENT_STATE_CONNECTING, QMP_CLIENT_STATE_NEGOTIATING,
    QMP_CLIENT_STATE_SYNCING, QMP_CLIENT_STATE_READY,
  };
  const char *greeting_properties[] = {
    "qemu-version", "qemu-major", "qemu-minor", "qemu-micro", "qemu-package", "capabilities",
  };
  const char *oob_only[] = { "oob", NULL };
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) request = NULL;
  g_autoptr(GPtrArray) records = qmp_test_load_transcript ("s1_greeting-tcg.jsonl");
  g_auto(GStrv) lines = NULL;
  g_auto(GStrv) caps_property = NULL;
  g_autofree char *version_property = NULL;
  g_autoptr(GHashTable) ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char * const *caps;
  guint major = 0;

  /* The server greets with QEMU 7.2's exact bytes. */
  g_assert_false (((QmpTestRecord *) records->pdata[0])->sent);
  g_assert_cmpstr (((QmpTestRecord *) records->pdata[0])->raw, ==, QMP_FAKE_GREETING);

  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_DISCONNECTED);
  g_assert_null (qmp_client_get_qemu_version (f->client));
  qmp_client_connect_async (f->client, NULL, qmp_test_store_result, &result);
  g_assert_true (qmp_client_connect_finish (f->client, wait_result (&result), &error));
  g_assert_no_error (error);

  g_assert_cmpuint (f->states->len, ==, G_N_ELEMENTS (expected_states));
  for (guint i = 0; i < G_N_ELEMENTS (expected_states); i++)
    g_assert_cmpint (g_array_index (f->states, QmpClientState, i), ==, expected_states[i]);

  g_assert_cmpstr (qmp_client_get_qemu_version (f->client), ==, "7.2.22");
  g_assert_cmpuint (qmp_client_get_qemu_major (f->client), ==, 7);
  g_assert_cmpuint (qmp_client_get_qemu_minor (f->client), ==, 2);
  g_assert_cmpuint (qmp_client_get_qemu_micro (f->client), ==, 22);
  g_assert_cmpstr (qmp_client_get_qemu_package (f->client), ==, "Debian 1:7.2+dfsg-7+deb12u18+b3");
  caps = qmp_client_get_capabilities (f->client);
  g_assert_nonnull (caps);
  g_assert_cmpstr (caps[0], ==, "oob");
  g_assert_null (caps[1]);
  g_assert_true (qmp_client_has_capability (f->client, "oob"));
  g_assert_false (qmp_client_has_capability (f->client, "nope"));

  /* The same through the properties, which were notified. */
  g_object_get (f->client, "qemu-version", &version_property, "qemu-major", &major,
                "capabilities", &caps_property, NULL);
  g_assert_cmpstr (version_property, ==, "7.2.22");
  g_assert_cmpuint (major, ==, 7);
  g_assert_cmpstrv (caps_property, oob_only);
  for (gsize i = 0; i < G_N_ELEMENTS (greeting_properties); i++)
    g_assert_true (g_ptr_array_find_with_equal_func (f->notified, greeting_properties[i], g_str_equal, NULL));

  /* qmp_capabilities went first, without arguments, with a string id. */
  request = qmp_fake_server_pop_request (f->server, 0);
  g_assert_nonnull (request);
  g_assert_cmpstr (json_object_get_string_member (request, "execute"), ==, "qmp_capabilities");
  g_assert_cmpuint (json_object_get_size (request), ==, 2);
  g_assert_nonnull (json_object_get_string_member_with_default (request, "id", NULL));

  /* Every command went as one JSON object on one line, each with an id
   * of its own. */
  lines = qmp_fake_server_dup_lines (f->server);
  g_assert_cmpuint (g_strv_length (lines), >=, 1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_autoptr(JsonObject) line = object_from (lines[i]);
      const char *id = json_object_get_string_member (line, "id");

      g_assert_null (strchr (lines[i], '\r'));
      g_assert_false (g_hash_table_contains (ids, id));
      g_hash_table_add (ids, g_strdup (id));
    }

  /* Connecting twice is refused. */
  g_assert_false (qmp_client_connect_sync (f->client, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_READY);
}

/* Every byte arrives on its own: the client's reads return one byte each,
 * so the framing sees every possible split of every line. */
static void
test_negotiate_byte_at_a_time (Fixture       *f,
                               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) request = NULL;
  g_autoptr(JsonNode) value = NULL;

  qmp_fake_server_set_chunk_size (f->server, 1);
  fixture_connect (f);
  g_assert_cmpstr (qmp_client_get_qemu_version (f->client), ==, "7.2.22");
  g_assert_cmpstr (qmp_client_get_qemu_package (f->client), ==, "Debian 1:7.2+dfsg-7+deb12u18+b3");

  qmp_fake_server_hold (f->server, "query-status");
  request = execute_and_wait_request (f, "query-status", qmp_test_store_result, &result);
  qmp_fake_server_send_event (f->server, "STOP", NULL);
  qmp_fake_server_reply (f->server, request, "{\"status\": \"io-error\", \"running\": false}");
  value = qmp_client_execute_finish (f->client, wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (value), "status"), ==, "io-error");
  g_assert_cmpuint (f->log->len, ==, 1);
  g_assert_cmpstr (f->log->pdata[0], ==, "event STOP");
}

/* The user's own qmp_capabilities gets QEMU's error; nothing else changes. */
static void
test_capabilities_again (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = NULL;
  g_autoptr(JsonObject) request = NULL;

  value = qmp_client_execute_sync (f->client, "qmp_capabilities", NULL, NULL, &error);
  g_assert_null (value);
  g_assert_error (error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_COMMAND_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "Capabilities negotiation is already complete, command ignored");
  g_assert_cmpstr (qmp_command_error_get_class_name (error), ==, "CommandNotFound");
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_READY);
  request = qmp_fake_server_pop_request (f->server, 0);
  g_assert_cmpstr (json_object_get_string_member (request, "execute"), ==, "qmp_capabilities");
  round_trip (f);
  g_assert_cmpuint (f->n_disconnected, ==, 0);
}

static void
test_negotiation_refused (Fixture       *f,
                          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  qmp_fake_server_set_reply (f->server, "qmp_capabilities",
                             "{\"error\": {\"class\": \"GenericError\", \"desc\": \"No way\"}}");
  g_assert_false (qmp_client_connect_sync (f->client, NULL, &error));
  g_assert_error (error, QMP_ERROR, QMP_ERROR_NEGOTIATION_FAILED);
  g_assert_nonnull (strstr (error->message, "No way"));
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_DISCONNECTED);
  g_assert_cmpuint (f->n_disconnected, ==, 0);
}

/* ------------------------------------------------------------------------ */
/* Connect failures */

static void
test_bad_greeting (Fixture       *f,
                   gconstpointer  data)
{
  const char *greetings[] = {
    "{\"hello\": \"world\"}\r\n",
    "{\"QMP\": {\"version\": 7}}\r\n",
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}}}}\r\n",
    "[\"QMP\"]\r\n",
    "{\"QMP\": \r\n",
    "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"STOP\"}\r\n",
  };

  for (gsize i = 0; i < G_N_ELEMENTS (greetings); i++)
    {
      g_autoptr(GError) error = NULL;

      qmp_fake_server_set_greeting (f->server, greetings[i]);
      g_assert_false (qmp_client_connect_sync (f->client, NULL, &error));
      g_assert_error (error, QMP_ERROR, QMP_ERROR_INVALID_GREETING);
      g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_DISCONNECTED);
      g_assert_null (qmp_client_get_qemu_version (f->client));
    }

  /* The client can try again. */
  qmp_fake_server_set_greeting (f->server, QMP_FAKE_GREETING);
  fixture_connect (f);
  g_assert_cmpuint (f->n_disconnected, ==, 0);
}

/* A client that went away with a command in flight: QEMU gives the reply
 * to the next client of the monitor, before its greeting (seen with QEMU
 * 10.0 on a loaded machine). Skipped; the connection goes on. */
static void
test_stale_reply_before_greeting (Fixture       *f,
                                  gconstpointer  data)
{
  qmp_fake_server_set_greeting (f->server,
                                "{\"return\": {\"edges\": [], \"nodes\": []}, \"id\": \"qmpthin-0badc0de-3\"}\r\n"
                                "{\"error\": {\"class\": \"GenericError\", \"desc\": \"x\"}, \"id\": \"qmpthin-0badc0de-4\"}\r\n"
                                QMP_FAKE_GREETING);
  fixture_connect (f);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_READY);
  g_assert_cmpstr (qmp_client_get_qemu_version (f->client), !=, NULL);
  round_trip (f);
  g_assert_cmpuint (f->n_disconnected, ==, 0);
}

static void
test_no_greeting (Fixture       *f,
                  gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  qmp_fake_server_set_greeting (f->server, NULL);
  qmp_client_set_connect_timeout (f->client, 200);
  g_assert_cmpuint (qmp_client_get_connect_timeout (f->client), ==, 200);
  g_assert_false (qmp_client_connect_sync (f->client, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "another client"));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 200 * 1000);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_DISCONNECTED);
  g_assert_cmpuint (f->n_disconnected, ==, 0);
}

/* QEMU serves one client at a time: a second one gets no greeting until
 * the first leaves. */
static void
test_second_client (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(QmpClient) second = qmp_client_new (qmp_fake_server_get_address (f->server));
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  qmp_client_set_connect_timeout (second, 200);
  g_assert_false (qmp_client_connect_sync (second, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "another client"));
  g_clear_error (&error);
  g_assert_cmpuint (qmp_fake_server_get_n_connections (f->server), ==, 1);

  /* The first one still works. */
  round_trip (f);

  /* Once it is gone, the second gets its turn. */
  qmp_client_set_connect_timeout (second, WAIT_LIMIT_MS);
  qmp_client_connect_async (second, NULL, qmp_test_store_result, &result);
  g_assert_true (qmp_client_close_sync (f->client, NULL, &error));
  g_assert_true (qmp_client_connect_finish (second, wait_result (&result), &error));
  g_assert_no_error (error);
  g_assert_cmpint (qmp_client_get_state (second), ==, QMP_CLIENT_STATE_READY);
}

static void
test_close_mid_greeting (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  qmp_fake_server_close_after (f->server, 40);
  qmp_client_connect_async (f->client, NULL, qmp_test_store_result, &result);
  g_assert_false (qmp_client_connect_finish (f->client, wait_result (&result), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_DISCONNECTED);
  g_assert_null (qmp_client_get_qemu_version (f->client));
  drain_context ();
  g_assert_cmpuint (f->n_disconnected, ==, 0);
  g_assert_cmpuint (qmp_fake_server_get_n_requests (f->server), ==, 0);

  /* The next connection gets the whole greeting. */
  fixture_connect (f);
}

static void
test_not_connected (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) result2 = NULL;
  g_autoptr(GAsyncResult) connected = NULL;
  g_auto(GStrv) lines = NULL;

  /* Before connecting. */
  g_assert_null (qmp_client_execute_sync (f->client, "never-sent", NULL, NULL, &error));
  g_assert_error (error, QMP_ERROR, QMP_ERROR_NOT_CONNECTED);
  g_clear_error (&error);
  qmp_client_execute_async (f->client, "never-sent", NULL, NULL, qmp_test_store_result, &result);
  g_assert_null (qmp_client_execute_finish (f->client, wait_result (&result), &error));
  g_assert_error (error, QMP_ERROR, QMP_ERROR_NOT_CONNECTED);
  g_clear_error (&error);

  /* While connecting. */
  qmp_client_connect_async (f->client, NULL, qmp_test_store_result, &connected);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_CONNECTING);
  qmp_client_execute_async (f->client, "never-sent", NULL, NULL, qmp_test_store_result, &result2);
  g_assert_null (qmp_client_execute_finish (f->client, wait_result (&result2), &error));
  g_assert_error (error, QMP_ERROR, QMP_ERROR_NOT_CONNECTED);
  g_clear_error (&error);
  g_assert_true (qmp_client_connect_finish (f->client, wait_result (&connected), &error));
  g_assert_no_error (error);

  /* Nothing of it reached the server. */
  drop_requests (f->server);
  round_trip (f);
  lines = qmp_fake_server_dup_lines (f->server);
  for (guint i = 0; lines[i] != NULL; i++)
    g_assert_null (strstr (lines[i], "never-sent"));

  /* After closing: not connected either, one rule for every call made
   * without a connection (G_IO_ERROR_CLOSED is for calls in flight). */
  g_assert_true (qmp_client_close_sync (f->client, NULL, NULL));
  g_assert_null (qmp_client_execute_sync (f->client, "query-status", NULL, NULL, &error));
  g_assert_error (error, QMP_ERROR, QMP_ERROR_NOT_CONNECTED);
  g_assert_nonnull (strstr (error->message, "closed"));
}

/* ------------------------------------------------------------------------ */
/* Addresses */

static void
test_bare_path (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(QmpClient) client = qmp_client_new (qmp_fake_server_get_path (f->server));
  g_autoptr(GError) error = NULL;

  g_assert_cmpstr (qmp_client_get_address (client), ==, qmp_fake_server_get_path (f->server));
  g_assert_true (qmp_client_connect_sync (client, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (qmp_client_get_state (client), ==, QMP_CLIENT_STATE_READY);
  g_assert_cmpstr (qmp_client_get_qemu_version (client), ==, "7.2.22");
}

static void
test_unix (Fixture       *f,
           gconstpointer  data)
{
  g_assert_true (g_str_has_prefix (qmp_client_get_address (f->client), "unix:/"));
  fixture_connect (f);
  round_trip (f);
}

static void
test_tcp (void)
{
  g_autoptr(QmpFakeServer) server = qmp_fake_server_new_tcp ();
  g_autoptr(QmpClient) client = qmp_client_new (qmp_fake_server_get_address (server));
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = NULL;
  g_autoptr(JsonObject) request = NULL;

  g_assert_true (g_str_has_prefix (qmp_client_get_address (client), "tcp:127.0.0.1:"));
  g_assert_null (qmp_fake_server_get_path (server));
  g_assert_true (qmp_client_connect_sync (client, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (qmp_client_get_qemu_version (client), ==, "7.2.22");
  drop_requests (server);

  qmp_fake_server_set_reply (server, "query-status",
                             "{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}}");
  value = qmp_client_execute_sync (client, "query-status", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (json_object_get_boolean_member (json_node_get_object (value), "running"));
  request = qmp_fake_server_pop_request (server, 0);
  g_assert_cmpstr (json_object_get_string_member (request, "execute"), ==, "query-status");

  g_assert_true (qmp_client_close_sync (client, NULL, &error));
  qmp_fake_server_wait_closed (server, 1, WAIT_LIMIT_MS);
}

static void
test_invalid_address (void)
{
  const char *addresses[] = { "nonsense", "unix:", "tcp:localhost", "ftp://x", "tcp:" };

  for (gsize i = 0; i < G_N_ELEMENTS (addresses); i++)
    {
      g_autoptr(QmpClient) client = qmp_client_new (addresses[i]);
      g_autoptr(GError) error = NULL;

      g_assert_false (qmp_client_connect_sync (client, NULL, &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_cmpint (qmp_client_get_state (client), ==, QMP_CLIENT_STATE_DISCONNECTED);
    }
}

static void
test_missing_socket (void)
{
  g_autoptr(QmpClient) client = qmp_client_new ("unix:/nonexistent/qmpthin/qmp.sock");
  g_autoptr(GError) error = NULL;

  g_assert_false (qmp_client_connect_sync (client, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  g_assert_cmpstr (error->message, ==, "There is no QMP socket at /nonexistent/qmpthin/qmp.sock: is QEMU running?");
  g_assert_cmpint (qmp_client_get_state (client), ==, QMP_CLIENT_STATE_DISCONNECTED);
}

/* A path that is not a socket will not become one while we wait: the
 * connect fails at once, saying so. */
static void
test_not_a_socket (void)
{
  g_autofree char *dir = g_dir_make_tmp ("qmpthin-file-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "qmp.sock", NULL);
  g_autofree char *address = g_strconcat ("unix:", path, NULL);
  g_autoptr(QmpClient) client = qmp_client_new (address);
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = g_strdup_printf ("%s is not a socket, so it is no QMP monitor", path);
  gint64 start;

  g_assert_true (g_file_set_contents (path, "", 0, NULL));
  start = g_get_monotonic_time ();
  g_assert_false (qmp_client_connect_sync (client, NULL, &error));
  g_test_message ("connect to a file that is not a socket: failed after %.1f ms",
                  (g_get_monotonic_time () - start) / 1e3);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_cmpstr (error->message, ==, expected);
  g_unlink (path);
  g_rmdir (dir);
}

/* The socket file of a QEMU that exited: nothing listens on it. It is
 * tried for a second (QEMU may be between bind() and listen()), not for
 * the whole connect timeout, and the error says what happened. */
/* A UNIX socket bound in a directory of its own and not listening: what
 * a QEMU that exited leaves behind, and what one between bind() and
 * listen() shows. */
typedef struct {
  char *dir;
  char *path;
  char *address;                /* "unix:" + path */
  GSocket *socket;
} BoundSocket;

static void
bound_socket_init (BoundSocket *bound,
                   const char  *dir_template)
{
  g_autoptr(GSocketAddress) address = NULL;

  bound->dir = g_dir_make_tmp (dir_template, NULL);
  g_assert_nonnull (bound->dir);
  bound->path = g_build_filename (bound->dir, "qmp.sock", NULL);
  bound->address = g_strconcat ("unix:", bound->path, NULL);
  address = g_unix_socket_address_new (bound->path);
  bound->socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                G_SOCKET_PROTOCOL_DEFAULT, NULL);
  g_assert_nonnull (bound->socket);
  g_assert_true (g_socket_bind (bound->socket, address, TRUE, NULL));
}

static void
bound_socket_clear (BoundSocket *bound)
{
  g_socket_close (bound->socket, NULL);
  g_clear_object (&bound->socket);
  g_unlink (bound->path);
  g_rmdir (bound->dir);
  g_clear_pointer (&bound->address, g_free);
  g_clear_pointer (&bound->path, g_free);
  g_clear_pointer (&bound->dir, g_free);
}

static void
test_stale_socket (void)
{
  BoundSocket bound;
  g_autoptr(QmpClient) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *expected = NULL;
  gint64 start, took;

  bound_socket_init (&bound, "qmpthin-stale-XXXXXX");
  expected = g_strdup_printf ("Nothing is listening on %s: the QEMU that made it has probably exited",
                              bound.path);
  client = qmp_client_new (bound.address);
  g_socket_close (bound.socket, NULL);
  qmp_client_set_connect_timeout (client, 60000);
  start = g_get_monotonic_time ();
  g_assert_false (qmp_client_connect_sync (client, NULL, &error));
  took = g_get_monotonic_time () - start;
  g_test_message ("connect to a stale socket: failed after %.1f ms", took / 1e3);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED);
  g_assert_cmpstr (error->message, ==, expected);
  g_assert_cmpint (took, >=, 1000 * 1000);
  g_assert_cmpint (took, <, 60000 * 1000);
  bound_socket_clear (&bound);
}

static void
count_reconnected (QmpClient *client,
                   gboolean   new_instance,
                   gpointer   user_data)
{
  (*(guint *) user_data)++;
}

/* An agent started before its VM: with auto-reconnect the first connect
 * fails once, telling why, and the client keeps trying by itself with
 * the same backoff as after a lost connection, until QEMU is there. */
static void
test_connect_before_qemu (void)
{
  g_autoptr(QmpFakeServer) server = qmp_fake_server_new ();
  g_autoptr(QmpClient) client = qmp_client_new (qmp_fake_server_get_address (server));
  g_autoptr(GError) error = NULL;
  guint n_reconnected = 0;

  /* QEMU has not made its socket yet. */
  g_assert_cmpint (g_unlink (qmp_fake_server_get_path (server)), ==, 0);
  g_object_set (client, "auto-reconnect", TRUE, "reconnect-min-delay", 20, "reconnect-max-delay", 40, NULL);
  g_signal_connect (client, "reconnected", G_CALLBACK (count_reconnected), &n_reconnected);
  g_assert_false (qmp_client_connect_sync (client, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND);
  run_for (100);
  g_assert_cmpint (qmp_client_get_state (client), ==, QMP_CLIENT_STATE_DISCONNECTED);

  /* QEMU starts. */
  qmp_fake_server_set_reply (server, "query-status", "{\"return\": {\"status\": \"running\", \"running\": true}}");
  qmp_fake_server_restart (server);
  WAIT_FOR (qmp_client_get_state (client) == QMP_CLIENT_STATE_READY);
  g_assert_cmpuint (n_reconnected, ==, 1);
  g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (client)), ==, QMP_STOP_KIND_RUNNING);

  /* Without auto-reconnect, a failed connect is the end of it. */
  g_assert_true (qmp_client_close_sync (client, NULL, NULL));
  qmp_client_set_auto_reconnect (client, FALSE);
  g_assert_cmpint (g_unlink (qmp_fake_server_get_path (server)), ==, 0);
  g_assert_false (qmp_client_connect_sync (client, NULL, NULL));
  qmp_fake_server_restart (server);
  run_for (200);
  g_assert_cmpint (qmp_client_get_state (client), ==, QMP_CLIENT_STATE_DISCONNECTED);
}

/* A socket that exists but is not listening refuses connections, as
 * QEMU's monitor briefly does: the client keeps trying until its connect
 * timeout, and connects once the socket listens. */
static gboolean
start_listening (gpointer user_data)
{
  g_assert_true (g_socket_listen (G_SOCKET (user_data), NULL));
  return G_SOURCE_REMOVE;
}

static void
test_refused_retry (void)
{
  BoundSocket bound;
  g_autoptr(QmpClient) client = NULL;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start;

  bound_socket_init (&bound, "qmpthin-refused-XXXXXX");
  client = qmp_client_new (bound.address);
  start = g_get_monotonic_time ();

  /* Refused until the timeout. */
  qmp_client_set_connect_timeout (client, 300);
  g_assert_false (qmp_client_connect_sync (client, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 300 * 1000);
  g_clear_error (&error);

  /* Listening after a while: the connection goes through (no greeting
   * comes, so it ends in the greeting step). */
  qmp_client_set_connect_timeout (client, 500);
  g_timeout_add (150, start_listening, bound.socket);
  qmp_client_connect_async (client, NULL, qmp_test_store_result, &result);
  g_assert_false (qmp_client_connect_finish (client, wait_result (&result), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "greeting"));

  bound_socket_clear (&bound);
}

/* A connection the caller made. */
static void
test_for_stream (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GSocketClient) socket_client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (qmp_fake_server_get_path (f->server));
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(QmpClient) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = NULL;
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);

  connection = g_socket_client_connect (socket_client, G_SOCKET_CONNECTABLE (address), NULL, &error);
  g_assert_no_error (error);
  client = qmp_client_new_for_stream (G_IO_STREAM (connection));
  g_assert_null (qmp_client_get_address (client));
  g_signal_connect (client, "event", G_CALLBACK (on_event_log), f);
  g_assert_true (qmp_client_connect_sync (client, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (qmp_client_get_qemu_version (client), ==, "7.2.22");

  qmp_fake_server_set_reply (f->server, "query-status",
                             "{\"return\": {\"status\": \"running\", \"running\": true}}");
  value = qmp_client_execute_sync (client, "query-status", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (value), "status"), ==, "running");
  qmp_fake_server_send_event (f->server, "RESUME", NULL);
  WAIT_FOR (f->log->len == 1);
  g_assert_cmpstr (f->log->pdata[0], ==, "event RESUME");

  /* Closing closes the caller's connection too, and it cannot be opened
   * again. */
  g_assert_true (qmp_client_close_sync (client, NULL, NULL));
  g_assert_true (g_io_stream_is_closed (G_IO_STREAM (connection)));
  qmp_fake_server_wait_closed (f->server, 1, WAIT_LIMIT_MS);
  g_assert_false (qmp_client_connect_sync (client, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
}

/* ------------------------------------------------------------------------ */
/* Commands */

static void
test_arguments (Fixture       *f,
                gconstpointer  data)
{
  const char *text = "{\"node-name\": \"data-file\", \"write-threshold\": 1048576}";
  g_autoptr(JsonObject) arguments = object_from (text);
  g_autoptr(JsonObject) expected = object_from (text);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = NULL;
  g_autoptr(JsonObject) request = NULL;
  g_autoptr(GHashTable) ids = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const struct {
    const char *reply;
    JsonNodeType type;
  } returns[] = {
    { "{\"return\": {}}", JSON_NODE_OBJECT },
    { "{\"return\": [1, 2, 3]}", JSON_NODE_ARRAY },
    { "{\"return\": 42}", JSON_NODE_VALUE },
    { "{\"return\": \"\"}", JSON_NODE_VALUE },
  };

  qmp_fake_server_set_reply (f->server, "block-set-write-threshold", "{\"return\": {}}");
  qmp_client_execute_async (f->client, "block-set-write-threshold", arguments, NULL,
                            qmp_test_store_result, &result);
  /* Serialised at once: later changes are not sent. */
  json_object_set_int_member (arguments, "write-threshold", 1);
  value = qmp_client_execute_finish (f->client, wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (value));
  g_assert_cmpuint (json_object_get_size (json_node_get_object (value)), ==, 0);
  request = qmp_fake_server_pop_request (f->server, 0);
  g_assert_cmpuint (json_object_get_size (request), ==, 3);
  g_assert_true (json_object_equal (json_object_get_object_member (request, "arguments"), expected));
  g_hash_table_add (ids, g_strdup (json_object_get_string_member (request, "id")));

  /* Without arguments, no "arguments" member; every id differs; any
   * JSON value comes back. */
  for (gsize i = 0; i < G_N_ELEMENTS (returns); i++)
    {
      g_autoptr(JsonNode) returned = NULL;
      g_autoptr(JsonObject) bare = NULL;
      const char *id;

      qmp_fake_server_set_reply (f->server, "query-x", returns[i].reply);
      returned = qmp_client_execute_sync (f->client, "query-x", NULL, NULL, &error);
      g_assert_no_error (error);
      g_assert_cmpint (JSON_NODE_TYPE (returned), ==, returns[i].type);
      /* Shared with the parsed message, so sealed. */
      g_assert_true (json_node_is_immutable (returned));
      bare = qmp_fake_server_pop_request (f->server, 0);
      g_assert_cmpuint (json_object_get_size (bare), ==, 2);
      g_assert_false (json_object_has_member (bare, "arguments"));
      id = json_object_get_string_member (bare, "id");
      g_assert_false (g_hash_table_contains (ids, id));
      g_hash_table_add (ids, g_strdup (id));
    }
}

/* 1000 commands in flight, answered in a shuffled order: each callback
 * runs once, with its own reply, in the order of the wire. */
typedef struct {
  guint index;
  guint *calls;                 /* per index */
  GArray *order;                /* guint: indexes, in completion order */
} PipelineCall;

static void
pipeline_ready (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  PipelineCall *call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = qmp_client_execute_finish (QMP_CLIENT (source), result, &error);

  g_assert_no_error (error);
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (value), "n"), ==, call->index);
  call->calls[call->index]++;
  g_array_append_val (call->order, call->index);
  g_free (call);
}

static void
test_pipeline (Fixture       *f,
               gconstpointer  data)
{
  const guint n = 1000;
  g_autofree guint *calls = g_new0 (guint, n);
  g_autofree guint *shuffled = g_new (guint, n);
  g_autoptr(GArray) order = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GPtrArray) requests = NULL;
  g_autoptr(GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GString) replies = g_string_new (NULL);

  qmp_fake_server_hold (f->server, "echo");
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(JsonObject) arguments = json_object_new ();
      PipelineCall *call = g_new0 (PipelineCall, 1);

      call->index = i;
      call->calls = calls;
      call->order = order;
      json_object_set_int_member (arguments, "n", i);
      qmp_client_execute_async (f->client, "echo", arguments, NULL, pipeline_ready, call);
    }
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, n);

  requests = qmp_fake_server_wait_requests (f->server, n, WAIT_LIMIT_MS);
  for (guint i = 0; i < n; i++)
    {
      JsonObject *request = requests->pdata[i];
      const char *id = json_object_get_string_member (request, "id");

      /* Sent in the order executed, each id unique. */
      g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (request, "arguments"), "n"),
                       ==, i);
      g_assert_false (g_hash_table_contains (ids, id));
      g_hash_table_add (ids, (gpointer) id);
      shuffled[i] = i;
    }

  /* Fisher-Yates with the test's seed (reproducible with --seed). */
  for (guint i = n - 1; i > 0; i--)
    {
      guint j = g_test_rand_int_range (0, i + 1);
      guint swap = shuffled[i];

      shuffled[i] = shuffled[j];
      shuffled[j] = swap;
    }
  for (guint i = 0; i < n; i++)
    {
      JsonObject *request = requests->pdata[shuffled[i]];

      g_string_append_printf (replies, "{\"return\": {\"n\": %u}, \"id\": \"%s\"}\r\n",
                              shuffled[i], json_object_get_string_member (request, "id"));
    }
  qmp_fake_server_send (f->server, replies->str);

  WAIT_FOR (order->len == n);
  drain_context ();
  g_assert_cmpuint (order->len, ==, n);
  for (guint i = 0; i < n; i++)
    {
      g_assert_cmpuint (calls[i], ==, 1);
      g_assert_cmpuint (g_array_index (order, guint, i), ==, shuffled[i]);
    }
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);
  g_assert_cmpuint (f->n_disconnected, ==, 0);
}

/* 1000 commands in flight, answered as they come: the figure is reported
 * for comparison with a real QEMU, never asserted. */
static void
test_pipeline_answered (Fixture       *f,
                        gconstpointer  data)
{
  const guint n = 1000;
  g_autofree guint *calls = g_new0 (guint, n);
  g_autoptr(GArray) order = g_array_new (FALSE, FALSE, sizeof (guint));
  gint64 start;
  double elapsed;

  qmp_fake_server_set_reply (f->server, "echo", "{\"return\": {\"n\": 0}}");
  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    {
      PipelineCall *call = g_new0 (PipelineCall, 1);

      call->calls = calls;
      call->order = order;
      qmp_client_execute_async (f->client, "echo", NULL, NULL, pipeline_ready, call);
    }
  WAIT_FOR (order->len == n);
  elapsed = (g_get_monotonic_time () - start) / 1e6;
  g_test_message ("1000 pipelined commands against the fake server: %.3f s (%.0f commands/s)",
                  elapsed, n / elapsed);
  g_assert_cmpuint (calls[0], ==, n);
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);
}

/* ------------------------------------------------------------------------ */
/* Timeouts and cancellation */

/* The connection survived: ready, never dropped, nothing left waiting. */
static void
assert_still_ready (Fixture *f)
{
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_READY);
  g_assert_cmpuint (f->n_disconnected, ==, 0);
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);
}

/* The late reply to a call that gave up is dropped quietly (a warning
 * would fail the test): at debug level only, and the connection stays. */
static void
assert_late_reply_dropped (Fixture    *f,
                           JsonObject *request)
{
  g_test_expect_message ("Qmp", G_LOG_LEVEL_DEBUG, "*late reply*");
  qmp_fake_server_reply (f->server, request, "{}");
  round_trip (f);
  g_test_assert_expected_messages ();
  assert_still_ready (f);
}

/* The client's command-timeout: a server that never answers. */
static void
test_timeout_client (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) request = NULL;
  guint timeout = 0;
  gint64 start;

  g_assert_cmpuint (qmp_client_get_command_timeout (f->client), ==, QMP_CLIENT_DEFAULT_COMMAND_TIMEOUT);
  g_object_set (f->client, "command-timeout", 100, NULL);
  g_object_get (f->client, "command-timeout", &timeout, NULL);
  g_assert_cmpuint (timeout, ==, 100);
  g_assert_true (g_ptr_array_find_with_equal_func (f->notified, "command-timeout", g_str_equal, NULL));

  qmp_fake_server_hold (f->server, "slow");
  start = g_get_monotonic_time ();
  request = execute_and_wait_request (f, "slow", qmp_test_store_result, &result);
  g_assert_null (qmp_client_execute_finish (f->client, wait_result (&result), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "slow"));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 100 * 1000);
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);

  assert_late_reply_dropped (f, request);
}

typedef struct
{
  GArray *order;                /* guint: which call completed, in turn */
  guint index;
  gint64 start;
  gint64 elapsed;
} TimedCall;

static void
timed_call_ready (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  TimedCall *call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = qmp_client_execute_finish (QMP_CLIENT (source), result, &error);

  g_assert_null (value);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  call->elapsed = g_get_monotonic_time () - call->start;
  g_array_append_val (call->order, call->index);
}

/* Calls in flight with different timeouts, issued out of deadline order,
 * fail in deadline order, each once and not before its time; a call
 * answered in time is not failed by the timer of the others. */
static void
test_timeout_order (Fixture       *f,
                    gconstpointer  data)
{
  /* Far enough apart, and long enough for the quick call's round trip,
   * that a slow machine (valgrind) does not change the order. */
  const guint timeouts[] = { 1500, 500, 1000 };
  const guint expected[] = { 1, 2, 0 };
  g_autoptr(GArray) order = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr(GAsyncResult) answered = NULL;
  g_autoptr(JsonNode) value = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) requests = NULL;
  TimedCall calls[G_N_ELEMENTS (timeouts)];

  qmp_fake_server_hold (f->server, "slow");
  for (guint i = 0; i < G_N_ELEMENTS (timeouts); i++)
    {
      calls[i] = (TimedCall) { order, i, g_get_monotonic_time (), 0 };
      qmp_client_execute_full_async (f->client, "slow", NULL, timeouts[i], NULL,
                                     timed_call_ready, &calls[i]);
    }
  /* Deadline before all of them, answered at once. */
  qmp_fake_server_set_reply (f->server, "quick", "{\"return\": 7}");
  qmp_client_execute_full_async (f->client, "quick", NULL, 250, NULL, qmp_test_store_result, &answered);
  value = qmp_client_execute_finish (f->client, wait_result (&answered), &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_node_get_int (value), ==, 7);

  WAIT_FOR (order->len == G_N_ELEMENTS (timeouts));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      guint index = g_array_index (order, guint, i);

      g_assert_cmpuint (index, ==, expected[i]);
      g_assert_cmpint (calls[index].elapsed, >=, (gint64) timeouts[index] * 1000);
    }
  run_for (50);
  g_assert_cmpuint (order->len, ==, G_N_ELEMENTS (timeouts));
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);
  requests = qmp_fake_server_wait_requests (f->server, G_N_ELEMENTS (timeouts) + 1, WAIT_LIMIT_MS);
}

/* A per-call timeout overrides the client's, both ways. */
static void
test_timeout_per_call (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) result2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) request = NULL;
  g_autoptr(JsonObject) request2 = NULL;
  g_autoptr(JsonNode) value = NULL;
  gint64 start;

  qmp_fake_server_hold (f->server, "slow");

  /* Shorter than "none" on the client. */
  qmp_client_set_command_timeout (f->client, QMP_TIMEOUT_NONE);
  start = g_get_monotonic_time ();
  qmp_client_execute_full_async (f->client, "slow", NULL, 50, NULL, qmp_test_store_result, &result);
  g_assert_null (qmp_client_execute_finish (f->client, wait_result (&result), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 50 * 1000);
  g_clear_error (&error);
  request = qmp_fake_server_wait_request (f->server, WAIT_LIMIT_MS);
  assert_late_reply_dropped (f, request);

  /* And for _sync. */
  start = g_get_monotonic_time ();
  g_assert_null (qmp_client_execute_full_sync (f->client, "slow", NULL, 50, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 50 * 1000);
  g_clear_error (&error);
  g_clear_pointer (&request, json_object_unref);
  request = qmp_fake_server_wait_request (f->server, WAIT_LIMIT_MS);
  assert_late_reply_dropped (f, request);

  /* QMP_TIMEOUT_NONE outlives the client's 50 ms; QMP_TIMEOUT_DEFAULT
   * does not. */
  qmp_client_set_command_timeout (f->client, 50);
  qmp_client_execute_full_async (f->client, "slow", NULL, QMP_TIMEOUT_NONE, NULL,
                                 qmp_test_store_result, &result2);
  request2 = qmp_fake_server_wait_request (f->server, WAIT_LIMIT_MS);
  g_assert_null (qmp_client_execute_full_sync (f->client, "slow", NULL, QMP_TIMEOUT_DEFAULT, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_clear_pointer (&request, json_object_unref);
  request = qmp_fake_server_wait_request (f->server, WAIT_LIMIT_MS);
  run_for (150);
  g_assert_null (result2);
  qmp_fake_server_reply (f->server, request2, "\"late but fine\"");
  value = qmp_client_execute_finish (f->client, wait_result (&result2), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_node_get_string (value), ==, "late but fine");
  assert_late_reply_dropped (f, request);
}

static void
test_cancel_after_send (Fixture       *f,
                        gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) request = NULL;

  qmp_fake_server_hold (f->server, "slow");
  qmp_client_execute_async (f->client, "slow", NULL, cancellable, qmp_test_store_result, &result);
  request = qmp_fake_server_wait_request (f->server, WAIT_LIMIT_MS);
  g_assert_null (result);
  g_cancellable_cancel (cancellable);
  /* At once: nothing from the server is needed. */
  drain_context ();
  g_assert_nonnull (result);
  g_assert_null (qmp_client_execute_finish (f->client, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);

  assert_late_reply_dropped (f, request);
}

static void
test_cancel_before_send (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) result2 = NULL;
  g_autoptr(GAsyncResult) result3 = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) request = NULL;
  g_autoptr(JsonNode) value = NULL;

  /* Cancelled already: fails at once, and nothing is sent. */
  g_cancellable_cancel (cancelled);
  qmp_client_execute_async (f->client, "slow", NULL, cancelled, qmp_test_store_result, &result);
  g_assert_null (qmp_client_execute_finish (f->client, wait_result (&result), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_null (qmp_client_execute_sync (f->client, "slow", NULL, cancelled, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  round_trip (f);
  g_assert_null (qmp_fake_server_pop_request (f->server, 0));

  /* Cancelled before the client wrote it: the command may still go out
   * (QEMU would run it); its reply is then dropped quietly. */
  qmp_fake_server_set_reply (f->server, "quick", "{\"return\": {}}");
  qmp_fake_server_set_reply (f->server, "ping", "{\"return\": {}}");
  qmp_client_execute_async (f->client, "quick", NULL, cancellable, qmp_test_store_result, &result2);
  g_cancellable_cancel (cancellable);
  g_assert_null (qmp_client_execute_finish (f->client, wait_result (&result2), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  qmp_client_execute_async (f->client, "ping", NULL, NULL, qmp_test_store_result, &result3);
  value = qmp_client_execute_finish (f->client, wait_result (&result3), &error);
  g_assert_no_error (error);
  g_assert_nonnull (value);
  request = qmp_fake_server_pop_request (f->server, 0);
  if (g_str_equal (json_object_get_string_member (request, "execute"), "quick"))
    {
      g_clear_pointer (&request, json_object_unref);
      request = qmp_fake_server_pop_request (f->server, 0);
    }
  g_assert_cmpstr (json_object_get_string_member (request, "execute"), ==, "ping");
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);
  g_assert_cmpuint (f->n_disconnected, ==, 0);
}

/* A _sync call cancelled while it waits for its reply. The client's own
 * thread is inside the call, and cancelling from another thread can leak
 * the GCancellableSource in GLib 2.74 (its dispose may run while the other
 * thread is still in g_cancellable_cancel()), so the cancellation comes
 * from this thread: from the wire trace of a line the server sends after
 * it got the command. */
typedef struct {
  GCancellable *cancellable;
  guint n_cancels;
} CancelOnTrace;

static void
cancel_on_trace (const char     *log_domain,
                 GLogLevelFlags  log_level,
                 const char     *message,
                 gpointer        user_data)
{
  CancelOnTrace *cot = user_data;

  if (strstr (message, "<- ") != NULL && strstr (message, "\"WORKING\"") != NULL)
    {
      cot->n_cancels++;
      g_cancellable_cancel (cot->cancellable);
    }
}

static void
test_cancel_sync (void)
{
  g_autoptr(QmpFakeServer) server = NULL;
  g_autoptr(QmpClient) client = NULL;
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) request = NULL;
  g_autoptr(JsonNode) value = NULL;
  CancelOnTrace cot = { cancellable, 0 };
  guint handler;

  /* Before the server's thread starts: setenv() is not thread-safe. */
  g_setenv ("QMP_DEBUG", "wire", TRUE);
  server = qmp_fake_server_new ();
  client = qmp_client_new (qmp_fake_server_get_address (server));
  g_unsetenv ("QMP_DEBUG");
  g_assert_true (qmp_client_connect_sync (client, NULL, &error));
  g_assert_no_error (error);
  drop_requests (server);

  /* The server answers with an event only. */
  qmp_fake_server_set_raw_reply (server, "slow",
                                 "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 0}, \"event\": \"WORKING\"}\r\n");
  handler = g_log_set_handler ("Qmp", G_LOG_LEVEL_DEBUG, cancel_on_trace, &cot);
  value = qmp_client_execute_sync (client, "slow", NULL, cancellable, &error);
  g_log_remove_handler ("Qmp", handler);
  g_assert_null (value);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);
  g_assert_cmpuint (cot.n_cancels, ==, 1);
  g_assert_cmpuint (qmp_client_get_n_pending (client), ==, 0);
  request = qmp_fake_server_pop_request (server, 0);
  g_assert_cmpstr (json_object_get_string_member (request, "execute"), ==, "slow");

  /* The late reply is dropped quietly, and the client goes on. */
  g_test_expect_message ("Qmp", G_LOG_LEVEL_DEBUG, "*late reply*");
  qmp_fake_server_reply (server, request, "{}");
  qmp_fake_server_set_reply (server, "ping", "{\"return\": 1}");
  {
    g_autoptr(GAsyncResult) result = NULL;

    qmp_client_execute_async (client, "ping", NULL, NULL, qmp_test_store_result, &result);
    value = qmp_client_execute_finish (client, wait_result (&result), &error);
  }
  g_assert_no_error (error);
  g_assert_cmpint (json_node_get_int (value), ==, 1);
  g_test_assert_expected_messages ();
}

/* ------------------------------------------------------------------------ */
/* Replies */

static void
test_unknown_id (Fixture       *f,
                 gconstpointer  data)
{
  /* Logged at debug level: the peer's mistake, not the program's, and
   * a library does not print on its own. */
  g_test_expect_message ("Qmp", G_LOG_LEVEL_DEBUG, "*unknown id*bogus*");
  qmp_fake_server_send (f->server, "{\"return\": {}, \"id\": \"bogus\"}\r\n");
  /* The client only ever sends string ids. */
  g_test_expect_message ("Qmp", G_LOG_LEVEL_DEBUG, "*unknown id*7*");
  qmp_fake_server_send (f->server, "{\"return\": {}, \"id\": 7}\r\n");
  g_test_expect_message ("Qmp", G_LOG_LEVEL_DEBUG, "*unknown id*");
  qmp_fake_server_send (f->server, "{\"id\": \"qmpthin-999999\", \"error\": {\"class\": \"GenericError\", \"desc\": \"x\"}}\r\n");
  /* What QEMU answers to input it cannot parse: no id at all. */
  g_test_expect_message ("Qmp", G_LOG_LEVEL_DEBUG, "*without an id*QMP input must be a JSON object*");
  qmp_fake_server_send (f->server, "{\"error\": {\"class\": \"GenericError\", \"desc\": \"QMP input must be a JSON object\"}}\r\n");
  round_trip (f);
  g_test_assert_expected_messages ();

  /* The connection is fine. */
  round_trip (f);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_READY);
  g_assert_cmpuint (f->n_disconnected, ==, 0);
}

static void
test_error_classes (Fixture       *f,
                    gconstpointer  data)
{
  const struct {
    const char *class;
    int code;
    const char *desc;
  } cases[] = {
    { "GenericError", QMP_COMMAND_ERROR_GENERIC_ERROR, "Parameter 'bogus' is unexpected" },
    { "CommandNotFound", QMP_COMMAND_ERROR_COMMAND_NOT_FOUND, "The command x has not been found" },
    { "DeviceNotActive", QMP_COMMAND_ERROR_DEVICE_NOT_ACTIVE, "No balloon device has been activated" },
    { "DeviceNotFound", QMP_COMMAND_ERROR_DEVICE_NOT_FOUND, "Device 'nosuch' not found" },
    { "KVMMissingCap", QMP_COMMAND_ERROR_KVM_MISSING_CAP, "Using KVM without vcpu_events" },
    { "BrandNewClass", QMP_COMMAND_ERROR_UNKNOWN, "From a QEMU of the future" },
    /* QEMU's text, double space included, unchanged. */
    { "GenericError", QMP_COMMAND_ERROR_GENERIC_ERROR,
      "The sum of offset (0) and size (2147483648) has to be smaller or equal to the  actual size "
      "of the containing file (1073741824)" },
    { "GenericError", QMP_COMMAND_ERROR_GENERIC_ERROR, "Quotes \" and \\ backslashes, \xc3\xa9" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(JsonObject) request = NULL;
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) value = NULL;

      qmp_fake_server_hold (f->server, "fail");
      request = execute_and_wait_request (f, "fail", qmp_test_store_result, &result);
      qmp_fake_server_reply_error (f->server, request, cases[i].class, cases[i].desc);
      value = qmp_client_execute_finish (f->client, wait_result (&result), &error);
      g_assert_null (value);
      g_assert_error (error, QMP_COMMAND_ERROR, cases[i].code);
      if (cases[i].code != QMP_COMMAND_ERROR_UNKNOWN)
        g_assert_cmpstr (error->message, ==, cases[i].desc);
      else
        {
          /* A class the library does not know is named in the message. */
          g_autofree char *expected = g_strdup_printf ("%s (QEMU error class %s)", cases[i].desc, cases[i].class);

          g_assert_cmpstr (error->message, ==, expected);
        }
      g_assert_cmpstr (qmp_command_error_get_class_name (error), ==, cases[i].class);
      g_assert_cmpint (qmp_command_error_from_class (cases[i].class), ==, cases[i].code);

      /* A copy made outside the library (as bindings make) keeps the
       * class, known or not. */
      {
        g_autoptr(GError) copy = g_error_new_literal (error->domain, error->code, error->message);

        g_assert_cmpstr (qmp_command_error_get_class_name (copy), ==, cases[i].class);
      }
    }

  /* The server's own CommandNotFound, as QEMU words it. */
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) value = qmp_client_execute_sync (f->client, "no-such-command", NULL, NULL, &error);

    g_assert_null (value);
    g_assert_error (error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_COMMAND_NOT_FOUND);
    g_assert_cmpstr (error->message, ==, "The command no-such-command has not been found");
  }
  g_assert_cmpuint (f->n_disconnected, ==, 0);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_READY);
}

/* QMP_DEBUG=wire logs every line, both ways, with g_debug(). */
static void
test_wire_trace (void)
{
  g_autoptr(QmpFakeServer) server = NULL;
  g_autoptr(QmpClient) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = NULL;

  /* Before the server's thread starts: setenv() is not thread-safe. */
  g_setenv ("QMP_DEBUG", "wire", TRUE);
  server = qmp_fake_server_new ();
  client = qmp_client_new (qmp_fake_server_get_address (server));
  g_unsetenv ("QMP_DEBUG");

  g_test_expect_message ("Qmp", G_LOG_LEVEL_DEBUG, "*<- {\"QMP\": {\"version\"*");
  g_test_expect_message ("Qmp", G_LOG_LEVEL_DEBUG, "*-> {\"execute\":\"qmp_capabilities\",\"id\":*}");
  g_test_expect_message ("Qmp", G_LOG_LEVEL_DEBUG, "*<- {\"return\": {}, \"id\": *}");
  g_assert_true (qmp_client_connect_sync (client, NULL, &error));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Qmp", G_LOG_LEVEL_DEBUG, "*-> {\"execute\":\"ping\",\"id\":*}");
  g_test_expect_message ("Qmp", G_LOG_LEVEL_DEBUG, "*<- {*\"error\": {\"class\": \"CommandNotFound\"*");
  value = qmp_client_execute_sync (client, "ping", NULL, NULL, NULL);
  g_test_assert_expected_messages ();
  g_assert_null (value);
}

/* ------------------------------------------------------------------------ */
/* Broken servers */

static void
count_closed (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Counter *counter = user_data;

  counter->domain = G_IO_ERROR;
  counter->code = G_IO_ERROR_CLOSED;
  count_failure (source, result, user_data);
}

/* The connection broke with @domain/@code: the command in flight failed
 * once, ::disconnected came once, and the client is CLOSED. */
static void
assert_broken (Fixture *f,
               Counter *counter,
               GQuark   domain,
               int      code)
{
  WAIT_FOR (f->n_disconnected > 0 && counter->n_done > 0);
  drain_context ();
  g_assert_cmpuint (counter->n_done, ==, 1);
  g_assert_cmpuint (f->n_disconnected, ==, 1);
  g_assert_error (f->disconnect_error, domain, code);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_CLOSED);
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);
  g_assert_cmpstr (f->log->pdata[f->log->len - 1], ==, "disconnected");
}

/* A reply cut in the middle, then EOF. */
static void
test_close_mid_line (Fixture       *f,
                     gconstpointer  data)
{
  Counter counter = { 0, };
  g_autoptr(GError) error = NULL;

  qmp_fake_server_set_reply (f->server, "slow", "{\"return\": {\"status\": \"running\"}}");
  qmp_fake_server_close_after (f->server, 20);
  qmp_client_execute_async (f->client, "slow", NULL, NULL, count_closed, &counter);
  assert_broken (f, &counter, G_IO_ERROR, G_IO_ERROR_CLOSED);

  /* Later calls fail at once: there is no connection. */
  g_assert_null (qmp_client_execute_sync (f->client, "x", NULL, NULL, &error));
  g_assert_error (error, QMP_ERROR, QMP_ERROR_NOT_CONNECTED);
}

/* QEMU sends SHUTDOWN, then closes: the event still arrives, first. */
static void
test_server_closes (Fixture       *f,
                    gconstpointer  data)
{
  Counter counter = { 0, };
  g_autoptr(JsonObject) request = NULL;

  qmp_fake_server_hold (f->server, "slow");
  request = execute_and_wait_request (f, "slow", count_closed, &counter);
  qmp_fake_server_send_event (f->server, "SHUTDOWN", "{\"guest\": false, \"reason\": \"host-qmp-quit\"}");
  qmp_fake_server_close_client (f->server);
  assert_broken (f, &counter, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_cmpuint (f->log->len, ==, 2);
  g_assert_cmpstr (f->log->pdata[0], ==, "event SHUTDOWN");
  g_assert_cmpstr (f->log->pdata[1], ==, "disconnected");

  /* A new connection works. */
  fixture_connect (f);
  round_trip (f);
}

/* Things that are not QMP: the client cannot trust the connection any
 * more and closes it. */
static void
test_protocol_errors (Fixture       *f,
                      gconstpointer  data)
{
  const struct {
    const char *line;
    int code;
  } cases[] = {
    { "{\"return\": {], \"id\": 1}\r\n", QMP_ERROR_PROTOCOL },
    { "[1, 2]\r\n", QMP_ERROR_PROTOCOL },
    { "\"just a string\"\r\n", QMP_ERROR_PROTOCOL },
    { "{\"hello\": 1}\r\n", QMP_ERROR_PROTOCOL },
    { "{\"event\": 5}\r\n", QMP_ERROR_PROTOCOL },
    { "{\"event\": \"X\", \"data\": [1]}\r\n", QMP_ERROR_PROTOCOL },
    { "{\"event\": \"X\", \"timestamp\": 7}\r\n", QMP_ERROR_PROTOCOL },
    { "{\"id\": \"x\", \"error\": \"oops\"}\r\n", QMP_ERROR_PROTOCOL },
    { "{\"id\": \"x\", \"error\": {\"class\": 1, \"desc\": \"x\"}}\r\n", QMP_ERROR_PROTOCOL },
    { "{\"return\": \"\xff\"}\r\n", QMP_ERROR_PROTOCOL },
    { NULL, QMP_ERROR_NESTING_TOO_DEEP },    /* 100,000 nested arrays */
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Counter counter = { 0, };
      g_autoptr(JsonObject) request = NULL;

      if (i > 0)
        fixture_connect (f);
      f->n_disconnected = 0;
      g_ptr_array_set_size (f->log, 0);

      qmp_fake_server_hold (f->server, "slow");
      request = execute_and_wait_request (f, "slow", count_closed, &counter);
      if (cases[i].line != NULL)
        {
          qmp_fake_server_send (f->server, cases[i].line);
        }
      else
        {
          g_autofree char *open = g_strnfill (100000, '[');

          qmp_fake_server_send (f->server, open);
          qmp_fake_server_send (f->server, "\r\n");
        }
      assert_broken (f, &counter, QMP_ERROR, cases[i].code);
    }

  /* A NUL byte inside a line. */
  {
    static const char line[] = "{\"return\": \"a\0b\", \"id\": 1}\r\n";
    Counter counter = { 0, };
    g_autoptr(JsonObject) request = NULL;

    fixture_connect (f);
    f->n_disconnected = 0;
    request = execute_and_wait_request (f, "slow", count_closed, &counter);
    qmp_fake_server_send_bytes (f->server, line, sizeof line - 1);
    assert_broken (f, &counter, QMP_ERROR, QMP_ERROR_PROTOCOL);
  }
}

/* The nesting limit at its edge, end to end: a reply nesting exactly
 * QMP_STREAM_DEFAULT_MAX_DEPTH (512) arrays and objects reaches the caller
 * (json-glib parses that deep without trouble); one level more closes the
 * connection (QMP_ERROR_NESTING_TOO_DEEP, see broken/protocol-errors)
 * before json-glib sees it. */
static char *
nested_reply (guint depth)
{
  g_autoptr(GString) line = g_string_new ("{\"return\": ");

  /* The reply object is level 1; then arrays and objects alternate. */
  for (guint level = 2; level <= depth; level++)
    g_string_append (line, level % 2 ? "{\"k\": " : "[");
  g_string_append (line, "1");
  for (guint level = depth; level >= 2; level--)
    g_string_append_c (line, level % 2 ? '}' : ']');
  g_string_append (line, ", \"id\": " QMP_FAKE_ID "}\r\n");
  return g_string_free (g_steal_pointer (&line), FALSE);
}

static void
test_depth_limit (Fixture       *f,
                  gconstpointer  data)
{
  g_autofree char *at_limit = nested_reply (512);
  g_autofree char *over_limit = nested_reply (513);
  g_autoptr(JsonNode) value = NULL;
  g_autoptr(GError) error = NULL;
  JsonNode *node;
  guint containers = 0;

  qmp_fake_server_set_raw_reply (f->server, "deep", at_limit);
  value = qmp_client_execute_sync (f->client, "deep", NULL, NULL, &error);
  g_assert_no_error (error);
  for (node = value; JSON_NODE_HOLDS_ARRAY (node) || JSON_NODE_HOLDS_OBJECT (node); containers++)
    {
      if (JSON_NODE_HOLDS_ARRAY (node))
        node = json_array_get_element (json_node_get_array (node), 0);
      else
        node = json_object_get_member (json_node_get_object (node), "k");
    }
  /* Below the reply object itself. */
  g_assert_cmpuint (containers, ==, 511);
  g_assert_cmpint (json_node_get_int (node), ==, 1);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_READY);

  qmp_fake_server_set_raw_reply (f->server, "deep", over_limit);
  g_clear_pointer (&value, json_node_unref);
  value = qmp_client_execute_sync (f->client, "deep", NULL, NULL, &error);
  /* The pending command fails as closed, saying why. */
  g_assert_null (value);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_nonnull (strstr (error->message, "deeper than 512 levels"));
}

/* A line of exactly max-message-size bytes (CRLF excluded) is accepted;
 * one more byte closes the connection. */
static char *
line_of_length (JsonObject *request,
                gsize       length,
                gsize      *pad_length)
{
  g_autoptr(GString) line = g_string_new (NULL);
  g_autofree char *pad = NULL;
  gsize fixed;

  g_string_printf (line, "{\"return\": \"\", \"id\": \"%s\"}", json_object_get_string_member (request, "id"));
  fixed = line->len;
  g_assert_cmpuint (length, >, fixed);
  pad = g_strnfill (length - fixed, 'a');
  g_string_insert (line, strlen ("{\"return\": \""), pad);
  g_assert_cmpuint (line->len, ==, length);
  g_string_append (line, "\r\n");
  *pad_length = length - fixed;
  return g_string_free (g_steal_pointer (&line), FALSE);
}

static void
test_oversized (Fixture       *f,
                gconstpointer  data)
{
  const gsize limit = 4096;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) request = NULL;
  g_autoptr(JsonObject) request2 = NULL;
  g_autoptr(JsonNode) value = NULL;
  g_autofree char *exact = NULL;
  g_autofree char *over = NULL;
  Counter counter = { 0, };
  gsize pad_length;

  g_assert_cmpuint (qmp_client_get_max_message_size (f->client), ==, QMP_CLIENT_DEFAULT_MAX_MESSAGE_SIZE);
  qmp_client_set_max_message_size (f->client, limit);
  g_assert_cmpuint (qmp_client_get_max_message_size (f->client), ==, limit);
  qmp_fake_server_hold (f->server, "big");

  request = execute_and_wait_request (f, "big", qmp_test_store_result, &result);
  exact = line_of_length (request, limit, &pad_length);
  qmp_fake_server_send (f->server, exact);
  value = qmp_client_execute_finish (f->client, wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (json_node_get_string (value)), ==, pad_length);

  request2 = execute_and_wait_request (f, "big", count_closed, &counter);
  over = line_of_length (request2, limit + 1, &pad_length);
  qmp_fake_server_send (f->server, over);
  assert_broken (f, &counter, QMP_ERROR, QMP_ERROR_MESSAGE_TOO_LARGE);
}

/* ------------------------------------------------------------------------ */
/* Events */

static void
log_reply (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Fixture *f = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = qmp_client_execute_finish (QMP_CLIENT (source), result, &error);

  g_assert_no_error (error);
  g_ptr_array_add (f->log, g_strdup_printf ("reply %s", json_node_get_string (value)));
}

static void
assert_log (Fixture           *f,
            const char * const *expected)
{
  guint n = g_strv_length ((char **) expected);

  WAIT_FOR (f->log->len >= n);
  drain_context ();
  for (guint i = 0; i < MAX (n, f->log->len); i++)
    g_assert_cmpstr (i < f->log->len ? f->log->pdata[i] : NULL, ==, expected[i]);
}

/* Events and replies interleaved: delivered in the order of the wire. */
static void
test_order (Fixture       *f,
            gconstpointer  data)
{
  const char *expected[] = { "event E1", "reply b", "event E2", "event E3", "reply a", "event E4", NULL };
  g_autoptr(JsonObject) a = NULL;
  g_autoptr(JsonObject) b = NULL;

  qmp_fake_server_hold (f->server, "a");
  qmp_fake_server_hold (f->server, "b");
  a = execute_and_wait_request (f, "a", log_reply, f);
  b = execute_and_wait_request (f, "b", log_reply, f);

  qmp_fake_server_send_event (f->server, "E1", NULL);
  qmp_fake_server_reply (f->server, b, "\"b\"");
  qmp_fake_server_send_event (f->server, "E2", "{\"k\": 1}");
  qmp_fake_server_send_event (f->server, "E3", NULL);
  qmp_fake_server_reply (f->server, a, "\"a\"");
  qmp_fake_server_send_event (f->server, "E4", NULL);
  assert_log (f, expected);
}

static void
on_event_store (QmpClient *client,
                QmpEvent  *event,
                gpointer   user_data)
{
  g_ptr_array_add (user_data, g_object_ref (event));
}

/* "event::STOP" gets STOP only; the generic signal gets everything. */
static void
test_detailed (Fixture       *f,
               gconstpointer  data)
{
  const char *expected[] = { "event RESUME", "event STOP", "event NEVER_SEEN_BEFORE_EVENT", NULL };
  const gint64 stamp = G_GINT64_CONSTANT (1795358840569524);
  g_autoptr(GPtrArray) stops = g_ptr_array_new_with_free_func (g_object_unref);
  QmpEvent *event;
  GDateTime *timestamp;

  g_signal_connect (f->client, "event::STOP", G_CALLBACK (on_event_store), stops);
  qmp_fake_server_send_event (f->server, "RESUME", NULL);
  qmp_fake_server_send_event_at (f->server, "STOP", stamp, NULL);
  qmp_fake_server_send_event (f->server, "NEVER_SEEN_BEFORE_EVENT", "{\"x\": [1]}");
  assert_log (f, expected);

  g_assert_cmpuint (stops->len, ==, 1);
  event = stops->pdata[0];
  g_assert_cmpstr (qmp_event_get_name (event), ==, "STOP");
  g_assert_cmpint (qmp_event_get_timestamp_usec (event), ==, stamp);
  timestamp = qmp_event_get_timestamp (event);
  g_assert_cmpint (g_date_time_to_unix (timestamp), ==, stamp / G_USEC_PER_SEC);
  g_assert_cmpint (g_date_time_get_microsecond (timestamp), ==, stamp % G_USEC_PER_SEC);
  /* STOP carries no data: an empty object. */
  g_assert_nonnull (qmp_event_get_data (event));
  g_assert_cmpuint (json_object_get_size (qmp_event_get_data (event)), ==, 0);
  g_assert_false (qmp_event_get_derived (event));
}

static void
test_event_data (Fixture       *f,
                 gconstpointer  data)
{
  const char *payload = "{\"device\": \"\", \"node-name\": \"data-fmt\", \"reason\": \"No space left on device\","
                        " \"operation\": \"write\", \"action\": \"report\"}";
  g_autoptr(GPtrArray) events = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(JsonObject) expected = object_from (payload);
  QmpEvent *event;

  g_signal_connect (f->client, "event", G_CALLBACK (on_event_store), events);
  qmp_fake_server_send_event_at (f->server, "BLOCK_IO_ERROR", 1, payload);
  /* QEMU's "no clock" timestamp. */
  qmp_fake_server_send_event_at (f->server, "RESUME", -1, NULL);
  WAIT_FOR (events->len == 2);

  event = events->pdata[0];
  g_assert_true (json_object_equal (qmp_event_get_data (event), expected));
  g_assert_cmpint (qmp_event_get_timestamp_usec (event), ==, 1);
  event = events->pdata[1];
  g_assert_cmpint (qmp_event_get_timestamp_usec (event), ==, -1);
  g_assert_null (qmp_event_get_timestamp (event));
}

/* ------------------------------------------------------------------------ */
/* Re-entrancy */

#define DURING_EVENT "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 2}, \"event\": \"DURING\"}\r\n"

static void
on_event_sync_call (QmpClient *client,
                    QmpEvent  *event,
                    gpointer   user_data)
{
  Fixture *f = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = NULL;

  if (!g_str_equal (qmp_event_get_name (event), "FIRST"))
    return;
  g_ptr_array_add (f->log, g_strdup ("handler start"));
  value = qmp_client_execute_sync (client, "inner", NULL, NULL, &error);
  g_assert_no_error (error);
  g_ptr_array_add (f->log, g_strdup_printf ("sync %s", json_node_get_string (value)));
}

/* A _sync call from an event handler: returns its own reply; the event
 * sent meanwhile (before the reply, on the wire) comes afterwards, in
 * order. */
static void
test_sync_in_handler (Fixture       *f,
                      gconstpointer  data)
{
  const char *expected[] = {
    "event FIRST", "handler start", "sync done", "event SECOND", "event DURING", "event THIRD", NULL,
  };

  qmp_fake_server_set_raw_reply (f->server, "inner",
                                 DURING_EVENT "{\"return\": \"done\", \"id\": " QMP_FAKE_ID "}\r\n");
  g_signal_connect_after (f->client, "event", G_CALLBACK (on_event_sync_call), f);
  qmp_fake_server_send_event (f->server, "FIRST", NULL);
  qmp_fake_server_send_event (f->server, "SECOND", NULL);
  WAIT_FOR (f->log->len >= 3);
  qmp_fake_server_send_event (f->server, "THIRD", NULL);
  assert_log (f, expected);
}

static void
sync_in_callback_ready (GObject      *source,
                        GAsyncResult *result,
                        gpointer      user_data)
{
  Fixture *f = user_data;
  g_autoptr(JsonNode) first = qmp_client_execute_finish (QMP_CLIENT (source), result, NULL);
  g_autoptr(JsonNode) second = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (first);
  g_ptr_array_add (f->log, g_strdup ("callback"));
  second = qmp_client_execute_sync (QMP_CLIENT (source), "inner", NULL, NULL, &error);
  g_assert_no_error (error);
  g_ptr_array_add (f->log, g_strdup_printf ("sync %s", json_node_get_string (second)));
}

static void
test_sync_in_callback (Fixture       *f,
                       gconstpointer  data)
{
  const char *expected[] = { "callback", "sync done", "event AFTER", "event DURING", NULL };

  qmp_fake_server_set_raw_reply (f->server, "outer",
                                 "{\"return\": {}, \"id\": " QMP_FAKE_ID "}\r\n"
                                 "{\"timestamp\": {\"seconds\": 1, \"microseconds\": 1}, \"event\": \"AFTER\"}\r\n");
  qmp_fake_server_set_raw_reply (f->server, "inner",
                                 DURING_EVENT "{\"return\": \"done\", \"id\": " QMP_FAKE_ID "}\r\n");
  qmp_client_execute_async (f->client, "outer", NULL, NULL, sync_in_callback_ready, f);
  assert_log (f, expected);
}

typedef struct {
  Fixture *f;
  GMainLoop *loop;
  JsonNode *value;
} NestedData;

static void
nested_ready (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  NestedData *nested = user_data;
  g_autoptr(GError) error = NULL;

  nested->value = qmp_client_execute_finish (QMP_CLIENT (source), result, &error);
  g_assert_no_error (error);
  g_ptr_array_add (nested->f->log, g_strdup ("callback"));
  g_main_loop_quit (nested->loop);
}

static void
on_event_nested_loop (QmpClient *client,
                      QmpEvent  *event,
                      gpointer   user_data)
{
  Fixture *f = user_data;
  NestedData nested = { f, NULL, NULL };

  if (!g_str_equal (qmp_event_get_name (event), "FIRST"))
    return;
  nested.loop = g_main_loop_new (NULL, FALSE);
  qmp_client_execute_async (client, "inner", NULL, NULL, nested_ready, &nested);
  g_main_loop_run (nested.loop);
  g_main_loop_unref (nested.loop);
  g_assert_nonnull (nested.value);
  g_ptr_array_add (f->log, g_strdup_printf ("nested %s", json_node_get_string (nested.value)));
  json_node_unref (nested.value);
}

/* A handler waits for an async call in a nested loop on the client's
 * context: delivery goes on from there, in wire order (SECOND and DURING
 * were sent before the reply). */
static void
test_nested_loop (Fixture       *f,
                  gconstpointer  data)
{
  const char *expected[] = {
    "event FIRST", "event SECOND", "event DURING", "callback", "nested done", "event THIRD", NULL,
  };

  qmp_fake_server_set_raw_reply (f->server, "inner",
                                 DURING_EVENT "{\"return\": \"done\", \"id\": " QMP_FAKE_ID "}\r\n");
  g_signal_connect_after (f->client, "event", G_CALLBACK (on_event_nested_loop), f);
  qmp_fake_server_send_event (f->server, "FIRST", NULL);
  qmp_fake_server_send_event (f->server, "SECOND", NULL);
  WAIT_FOR (f->log->len >= 5);
  qmp_fake_server_send_event (f->server, "THIRD", NULL);
  assert_log (f, expected);
}

static void
on_ready_execute (GObject    *object,
                  GParamSpec *pspec,
                  gpointer    user_data)
{
  Fixture *f = user_data;

  if (qmp_client_get_state (QMP_CLIENT (object)) != QMP_CLIENT_STATE_READY)
    return;
  /* The thread-default context here is the caller's, not the private one
   * qmp_client_connect_sync() waits in. */
  g_assert_true (g_main_context_get_thread_default () == NULL ||
                 g_main_context_get_thread_default () == g_main_context_default ());
  qmp_client_execute_async (QMP_CLIENT (object), "inner", NULL, NULL, log_reply, f);
  g_ptr_array_add (f->log, g_strdup ("ready"));
}

/* An async call made by a handler while qmp_client_connect_sync() runs
 * (the client becomes READY inside it) completes once the caller's context
 * runs again, as every async call does: its callback is not lost in the
 * connect's private context. */
static void
test_async_from_connect_sync (Fixture       *f,
                              gconstpointer  data)
{
  const char *expected[] = { "ready", "reply done", NULL };
  g_autoptr(GError) error = NULL;

  qmp_fake_server_set_reply (f->server, "query-status", "{\"return\": {\"status\": \"running\", \"running\": true}}");
  qmp_fake_server_set_reply (f->server, "inner", "{\"return\": \"done\"}");
  g_signal_connect (f->client, "notify::state", G_CALLBACK (on_ready_execute), f);
  g_assert_true (qmp_client_connect_sync (f->client, NULL, &error));
  g_assert_no_error (error);
  assert_log (f, expected);
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);
}

/* ------------------------------------------------------------------------ */
/* Closing */

static void
test_close_with_pending (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) requests = NULL;
  Counter counter = { 0, };

  qmp_fake_server_hold (f->server, "slow");
  for (guint i = 0; i < 3; i++)
    qmp_client_execute_async (f->client, "slow", NULL, NULL, count_closed, &counter);
  requests = qmp_fake_server_wait_requests (f->server, 3, WAIT_LIMIT_MS);

  qmp_client_close_async (f->client, NULL, qmp_test_store_result, &result);
  g_assert_true (qmp_client_close_finish (f->client, wait_result (&result), &error));
  g_assert_no_error (error);
  WAIT_FOR (counter.n_done == 3);
  drain_context ();
  g_assert_cmpuint (counter.n_done, ==, 3);
  g_assert_cmpuint (f->n_disconnected, ==, 1);
  g_assert_null (f->disconnect_error);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_CLOSED);
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);
  /* The socket really is closed. */
  qmp_fake_server_wait_closed (f->server, 1, WAIT_LIMIT_MS);

  /* Closing again does nothing. */
  g_assert_true (qmp_client_close_sync (f->client, NULL, NULL));
  g_assert_cmpuint (f->n_disconnected, ==, 1);

  /* And the client can connect again. */
  fixture_connect (f);
  round_trip (f);
  g_assert_cmpuint (qmp_fake_server_get_n_connections (f->server), ==, 2);
}

static void
test_dispose_with_pending (Fixture       *f,
                           gconstpointer  data)
{
  g_autoptr(GPtrArray) requests = NULL;
  Counter counter = { 0, };

  qmp_fake_server_hold (f->server, "slow");
  for (guint i = 0; i < 3; i++)
    qmp_client_execute_async (f->client, "slow", NULL, NULL, count_closed, &counter);
  requests = qmp_fake_server_wait_requests (f->server, 3, WAIT_LIMIT_MS);
  g_object_run_dispose (G_OBJECT (f->client));
  WAIT_FOR (counter.n_done == 3);
  drain_context ();
  g_assert_cmpuint (counter.n_done, ==, 3);
  g_assert_cmpuint (f->n_disconnected, ==, 1);
  g_assert_null (f->disconnect_error);
  qmp_fake_server_wait_closed (f->server, 1, WAIT_LIMIT_MS);
}

/* The last reference dropped with commands in flight: each command still
 * completes once (here: one reply, one timeout), then the client goes. */
static void
test_unref_with_pending (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GAsyncResult) answered = NULL;
  g_autoptr(GAsyncResult) timed_out = NULL;
  g_autoptr(JsonObject) request = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = NULL;
  QmpClient *client = f->client;

  qmp_fake_server_hold (f->server, "slow");
  qmp_client_execute_full_async (client, "slow", NULL, QMP_TIMEOUT_NONE, NULL,
                                 qmp_test_store_result, &answered);
  request = qmp_fake_server_wait_request (f->server, WAIT_LIMIT_MS);
  qmp_client_execute_full_async (client, "slow", NULL, 100, NULL, qmp_test_store_result, &timed_out);
  g_object_add_weak_pointer (G_OBJECT (client), (gpointer *) &client);
  g_clear_object (&f->client);

  qmp_fake_server_reply (f->server, request, "\"answered\"");
  value = qmp_client_execute_finish (client, wait_result (&answered), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_node_get_string (value), ==, "answered");
  g_assert_null (qmp_client_execute_finish (client, wait_result (&timed_out), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);

  /* The results hold the last references. */
  g_clear_object (&answered);
  g_clear_object (&timed_out);
  WAIT_FOR (client == NULL);
  qmp_fake_server_wait_closed (f->server, 1, WAIT_LIMIT_MS);
}

/* ------------------------------------------------------------------------ */
/* Fault injection */

/* The id of @request as JSON text, as QEMU echoes it. */
static char *
id_text (JsonObject *request)
{
  return json_to_string (json_object_get_member (request, "id"), FALSE);
}

/* The server closes after every possible prefix of its greeting: each
 * connection attempt fails once with CLOSED, nothing is sent, and the
 * client can connect again. */
/* GIO's rule: a call in flight holds its client, as every GTask holds its
 * source object. Dropping the last reference of the caller's own with a
 * call that has no timeout leaves the client and its connection up until
 * QEMU answers; then the callback runs and the client goes. */
static void
test_unref_no_timeout (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) request = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = NULL;
  QmpClient *client = f->client;

  qmp_client_set_command_timeout (client, 0);
  qmp_fake_server_hold (f->server, "slow");
  qmp_client_execute_async (client, "slow", NULL, NULL, qmp_test_store_result, &result);
  request = qmp_fake_server_wait_request (f->server, WAIT_LIMIT_MS);
  g_object_add_weak_pointer (G_OBJECT (client), (gpointer *) &client);
  g_clear_object (&f->client);
  run_for (200);
  g_assert_nonnull (client);
  g_assert_cmpint (qmp_client_get_state (client), ==, QMP_CLIENT_STATE_READY);
  g_assert_cmpuint (qmp_fake_server_get_n_closed (f->server), ==, 0);

  qmp_fake_server_reply (f->server, request, "\"late\"");
  value = qmp_client_execute_finish (client, wait_result (&result), &error);
  g_assert_no_error (error);
  g_clear_object (&result);
  WAIT_FOR (client == NULL);
  qmp_fake_server_wait_closed (f->server, 1, WAIT_LIMIT_MS);
}

/* An automatic reconnection is nobody's call: with connect-timeout 0 its
 * attempt still ends, so that a client the caller dropped goes, and
 * QEMU's monitor with it, when the attempt never gets a greeting. */
static void
test_unref_reconnecting (Fixture       *f,
                         gconstpointer  data)
{
  QmpClient *client = f->client;

  g_object_set (client, "connect-timeout", 0, "reconnect-min-delay", 10, "reconnect-max-delay", 20,
                "auto-reconnect", TRUE, NULL);
  qmp_fake_server_set_greeting (f->server, NULL);
  qmp_fake_server_close_client (f->server);
  qmp_fake_server_wait_connections (f->server, 2, WAIT_LIMIT_MS);
  g_assert_cmpint (qmp_client_get_state (client), ==, QMP_CLIENT_STATE_CONNECTING);
  g_object_add_weak_pointer (G_OBJECT (client), (gpointer *) &client);
  g_clear_object (&f->client);
  /* The attempt's own limit, the default connect timeout, and a margin. */
  QMP_TEST_WAIT_FOR (client == NULL, QMP_CLIENT_DEFAULT_CONNECT_TIMEOUT + WAIT_LIMIT_MS);
  qmp_fake_server_wait_closed (f->server, 2, WAIT_LIMIT_MS);
}

static void
test_close_every_greeting_offset (Fixture       *f,
                                  gconstpointer  data)
{
  const gsize length = strlen (QMP_FAKE_GREETING);

  for (gsize offset = 0; offset < length; offset++)
    {
      g_autoptr(GAsyncResult) result = NULL;
      g_autoptr(GError) error = NULL;

      qmp_fake_server_close_after (f->server, offset);
      qmp_client_connect_async (f->client, NULL, qmp_test_store_result, &result);
      g_assert_false (qmp_client_connect_finish (f->client, wait_result (&result), &error));
      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
      g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_DISCONNECTED);
      qmp_fake_server_wait_closed (f->server, offset + 1, WAIT_LIMIT_MS);
    }
  drain_context ();
  g_assert_cmpuint (f->n_disconnected, ==, 0);
  g_assert_cmpuint (qmp_fake_server_get_n_requests (f->server), ==, 0);
  fixture_connect (f);
}

/* The server closes after every possible prefix of a reply, with two
 * more commands in flight: all three fail once with CLOSED. */
static void
test_close_every_reply_offset (Fixture       *f,
                               gconstpointer  data)
{
  gsize length = 0;

  qmp_fake_server_hold (f->server, "slow");
  for (gsize offset = 0; offset == 0 || offset < length; offset++)
    {
      Counter counter = { 0, };
      g_autoptr(GPtrArray) requests = NULL;
      g_autofree char *id = NULL;
      g_autofree char *reply = NULL;

      if (offset > 0)
        fixture_connect (f);
      f->n_disconnected = 0;
      for (guint i = 0; i < 3; i++)
        qmp_client_execute_async (f->client, "slow", NULL, NULL, count_closed, &counter);
      requests = qmp_fake_server_wait_requests (f->server, 3, WAIT_LIMIT_MS);
      id = id_text (requests->pdata[0]);
      reply = g_strdup_printf ("{\"return\": {\"status\": \"running\", \"singlestep\": false, "
                               "\"running\": true}, \"id\": %s}\r\n", id);
      length = strlen (reply);

      qmp_fake_server_close_after (f->server, offset);
      qmp_fake_server_send (f->server, reply);
      WAIT_FOR (counter.n_done == 3 && f->n_disconnected == 1);
      drain_context ();
      g_assert_cmpuint (counter.n_done, ==, 3);
      g_assert_cmpuint (f->n_disconnected, ==, 1);
      g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_CLOSED);
      g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);
      g_ptr_array_set_free_func (requests, (GDestroyNotify) json_object_unref);
    }
}

/* A reply sent twice: the call completes once, the copy is dropped like
 * a late reply, and the connection goes on. */
static void
test_duplicate_reply (Fixture       *f,
                      gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(JsonObject) request = NULL;
  g_autoptr(JsonNode) value = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *reply = NULL;

  qmp_fake_server_hold (f->server, "slow");
  request = execute_and_wait_request (f, "slow", qmp_test_store_result, &result);
  id = id_text (request);
  reply = g_strdup_printf ("{\"return\": \"first\", \"id\": %s}\r\n", id);
  g_test_expect_message ("Qmp", G_LOG_LEVEL_DEBUG, "*late reply*answered already*");
  qmp_fake_server_send (f->server, reply);
  qmp_fake_server_send (f->server, reply);
  value = qmp_client_execute_finish (f->client, wait_result (&result), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_node_get_string (value), ==, "first");
  round_trip (f);
  g_test_assert_expected_messages ();
  assert_still_ready (f);
}

/* A NUL byte inside a line is not JSON: a protocol error, the call
 * fails once. */
static void
test_nul_byte (Fixture       *f,
               gconstpointer  data)
{
  static const char line[] = "{\"return\": \"a\0b\"}\r\n";
  Counter counter = { 0, };
  g_autoptr(JsonObject) request = NULL;

  qmp_fake_server_hold (f->server, "slow");
  request = execute_and_wait_request (f, "slow", count_closed, &counter);
  qmp_fake_server_send_bytes (f->server, line, sizeof line - 1);
  assert_broken (f, &counter, QMP_ERROR, QMP_ERROR_PROTOCOL);
}

static gboolean
on_tick (gpointer user_data)
{
  (*(guint *) user_data)++;
  return G_SOURCE_CONTINUE;
}

/* A peer that stops reading while the client sends a command larger than
 * the socket buffers: the client does not block (its main loop runs on,
 * with a second command queued behind the first), the call times out
 * once, and once the peer reads again the connection goes on (the late
 * reply is dropped, the queued command is answered). */
static void
test_peer_not_reading (Fixture       *f,
                       gconstpointer  data)
{
  g_autoptr(JsonObject) arguments = json_object_new ();
  g_autofree char *huge = g_strnfill (4 * 1024 * 1024, 'x');
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) queued_result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) request = NULL;
  g_autoptr(JsonObject) queued_request = NULL;
  g_autoptr(JsonNode) value = NULL;
  guint n_ticks = 0;
  guint tick;

  qmp_fake_server_set_reading (f->server, FALSE);
  qmp_fake_server_set_reply (f->server, "queued", "{\"return\": {}}");
  json_object_set_string_member (arguments, "blob", huge);
  qmp_client_execute_full_async (f->client, "huge", arguments, 1000, NULL, qmp_test_store_result, &result);
  /* Without a timeout, this one can only complete once the peer reads:
   * every tick below runs while the client still has it to write. */
  qmp_client_execute_full_async (f->client, "queued", NULL, QMP_TIMEOUT_NONE, NULL, qmp_test_store_result,
                                 &queued_result);
  tick = g_timeout_add (10, on_tick, &n_ticks);
  /* The loop runs while the commands wait to be written (a client blocked
   * in a write would tick no more). Waited for as a count, not measured
   * against the timeout: serialising 4 MiB can take most of that second
   * under valgrind. */
  WAIT_FOR (result != NULL && n_ticks >= 20);
  g_source_remove (tick);
  g_assert_null (qmp_client_execute_finish (f->client, result, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);
  g_assert_null (queued_result);
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 1);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_READY);

  g_test_expect_message ("Qmp", G_LOG_LEVEL_DEBUG, "*late reply*");
  qmp_fake_server_set_reading (f->server, TRUE);
  request = qmp_fake_server_wait_request (f->server, WAIT_LIMIT_MS);
  g_assert_cmpuint (strlen (json_object_get_string_member (json_object_get_object_member (request, "arguments"), "blob")),
                    ==, strlen (huge));
  queued_request = qmp_fake_server_wait_request (f->server, WAIT_LIMIT_MS);
  g_assert_cmpstr (json_object_get_string_member (queued_request, "execute"), ==, "queued");
  value = qmp_client_execute_finish (f->client, wait_result (&queued_result), &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (value));
  round_trip (f);
  g_test_assert_expected_messages ();
  assert_still_ready (f);
}

typedef struct {
  guint n_events;
  gboolean in_order;
  guint n_replies;
  gboolean replies_matched;
} StormLog;

static void
on_storm_threshold (QmpClient              *client,
                    QmpWriteThresholdEvent *event,
                    gpointer                user_data)
{
  StormLog *log = user_data;

  if (qmp_write_threshold_event_get_amount_exceeded (event) != log->n_events)
    log->in_order = FALSE;
  log->n_events++;
}

typedef struct {
  StormLog *log;
  gint64 index;
} StormCall;

static void
on_storm_reply (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  StormCall *call = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = qmp_client_execute_finish (QMP_CLIENT (source), result, &error);

  g_assert_no_error (error);
  if (json_node_get_int (value) != call->index)
    call->log->replies_matched = FALSE;
  call->log->n_replies++;
}

/* 100,000 events (10,000 under valgrind) while 64 commands are in
 * flight, their replies spread through the storm in an order of the
 * server's choosing: every reply goes to its own call, once, and every
 * event is delivered once, in order. */
static void
test_storm_with_commands (Fixture       *f,
                          gconstpointer  data)
{
  /* Under valgrind, a tenth: the same paths, in a reasonable time. */
  const guint n_events = g_getenv ("QMP_TEST_VALGRIND") ? 10000 : 100000;
  const guint n_calls = 64;
  StormLog log = { 0, TRUE, 0, TRUE };
  StormCall calls[64];
  g_autoptr(GPtrArray) requests = NULL;
  g_autoptr(GString) batch = g_string_new (NULL);
  guint next_reply = 0;

  g_signal_connect (f->client, "block-write-threshold", G_CALLBACK (on_storm_threshold), &log);
  qmp_fake_server_hold (f->server, "slow");
  for (guint i = 0; i < n_calls; i++)
    {
      calls[i].log = &log;
      calls[i].index = i;
      qmp_client_execute_full_async (f->client, "slow", NULL, QMP_TIMEOUT_NONE, NULL,
                                     on_storm_reply, &calls[i]);
    }
  requests = qmp_fake_server_wait_requests (f->server, n_calls, WAIT_LIMIT_MS);
  g_ptr_array_set_free_func (requests, (GDestroyNotify) json_object_unref);

  for (guint i = 0; i < n_events; i++)
    {
      g_string_append_printf (batch,
                              "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": %u}, "
                              "\"event\": \"BLOCK_WRITE_THRESHOLD\", \"data\": {\"node-name\": \"data-file\", "
                              "\"amount-exceeded\": %u, \"write-threshold\": 1048576}}\r\n", i % 1000000, i);
      /* Replies in reverse order of the requests, spread over the storm. */
      if (i % (n_events / (n_calls + 1)) == 0 && i > 0 && next_reply < n_calls)
        {
          guint k = n_calls - 1 - next_reply++;
          g_autofree char *id = id_text (requests->pdata[k]);

          g_string_append_printf (batch, "{\"return\": %u, \"id\": %s}\r\n", k, id);
        }
      if (batch->len > 64 * 1024)
        {
          qmp_fake_server_send (f->server, batch->str);
          g_string_truncate (batch, 0);
        }
    }
  qmp_fake_server_send (f->server, batch->str);
  g_assert_cmpuint (next_reply, ==, n_calls);

  QMP_TEST_WAIT_FOR (log.n_events == n_events && log.n_replies == n_calls, 120000);
  drain_context ();
  g_assert_cmpuint (log.n_events, ==, n_events);
  g_assert_true (log.in_order);
  g_assert_cmpuint (log.n_replies, ==, n_calls);
  g_assert_true (log.replies_matched);
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);
  g_assert_cmpuint (f->n_disconnected, ==, 0);
}

/* Disposed while it waits to reconnect: it goes away at once, and the
 * pending attempt never fires (ASan and valgrind would catch a timer left
 * behind with a dangling client). */
static void
test_dispose_reconnect_pending (Fixture       *f,
                                gconstpointer  data)
{
  QmpClient *client = f->client;

  /* The attempt would come after 250 to 500 ms. */
  g_object_set (client, "auto-reconnect", TRUE, "reconnect-min-delay", 500,
                "reconnect-max-delay", 500, NULL);
  qmp_fake_server_close_client (f->server);
  WAIT_FOR (f->n_disconnected == 1);
  g_assert_cmpint (qmp_client_get_state (client), ==, QMP_CLIENT_STATE_CLOSED);

  g_object_add_weak_pointer (G_OBJECT (client), (gpointer *) &client);
  g_clear_object (&f->client);
  g_assert_null (client);
  run_for (700);
  g_assert_cmpuint (qmp_fake_server_get_n_connections (f->server), ==, 1);
}

/* Misuse is a critical, not a crash, and completes nothing. */
static void
test_misuse (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  if (g_test_undefined ())
    {
      g_test_expect_message ("Qmp", G_LOG_LEVEL_CRITICAL, "*command != NULL*");
      qmp_client_execute_async (f->client, NULL, NULL, NULL, qmp_test_store_result, &result);
      g_test_expect_message ("Qmp", G_LOG_LEVEL_CRITICAL, "*command != NULL*");
      g_assert_null (qmp_client_execute_sync (f->client, "", NULL, NULL, &error));
      g_test_assert_expected_messages ();
      g_assert_no_error (error);
      drain_context ();
      g_assert_null (result);
    }
  round_trip (f);
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);
}

static gpointer
execute_from_thread (gpointer user_data)
{
  QmpClient *client = user_data;
  g_autoptr(GError) error = NULL;

  qmp_client_execute_async (client, "ping", NULL, NULL, NULL, NULL);
  return qmp_client_execute_sync (client, "ping", NULL, NULL, &error);
}

/* A call from a thread other than the one running the client's context
 * (here: the test's thread, which holds it) is a critical, and nothing
 * is sent. */
static void
test_misuse_thread (Fixture       *f,
                    gconstpointer  data)
{
  guint n_requests = qmp_fake_server_get_n_requests (f->server);
  GThread *thread;

  if (!g_test_undefined ())
    return;
  g_assert_true (g_main_context_acquire (NULL));
  g_test_expect_message ("Qmp", G_LOG_LEVEL_CRITICAL, "*called_from_client_thread*");
  g_test_expect_message ("Qmp", G_LOG_LEVEL_CRITICAL, "*called_from_client_thread*");
  thread = g_thread_new ("misuse", execute_from_thread, f->client);
  g_assert_null (g_thread_join (thread));
  g_test_assert_expected_messages ();
  g_main_context_release (NULL);

  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);
  /* Only the round trip's request reached the server. */
  round_trip (f);
  g_assert_cmpuint (qmp_fake_server_get_n_requests (f->server), ==, n_requests + 1);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/qmp/client/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)
#define ADD_UNCONNECTED(path, func) \
  g_test_add ("/qmp/client/" path, Fixture, NULL, fixture_setup_unconnected, func, fixture_teardown)

  ADD_UNCONNECTED ("negotiate/states", test_negotiate);
  ADD_UNCONNECTED ("negotiate/byte-at-a-time", test_negotiate_byte_at_a_time);
  ADD ("negotiate/capabilities-again", test_capabilities_again);
  ADD_UNCONNECTED ("negotiate/refused", test_negotiation_refused);
  ADD_UNCONNECTED ("connect/bad-greeting", test_bad_greeting);
  ADD_UNCONNECTED ("connect/stale-reply-before-greeting", test_stale_reply_before_greeting);
  ADD_UNCONNECTED ("connect/no-greeting", test_no_greeting);
  ADD ("connect/second-client", test_second_client);
  ADD_UNCONNECTED ("connect/close-mid-greeting", test_close_mid_greeting);
  ADD_UNCONNECTED ("connect/not-connected", test_not_connected);
  g_test_add_func ("/qmp/client/connect/refused-retry", test_refused_retry);
  ADD_UNCONNECTED ("address/unix", test_unix);
  ADD_UNCONNECTED ("address/bare-path", test_bare_path);
  g_test_add_func ("/qmp/client/address/tcp", test_tcp);
  g_test_add_func ("/qmp/client/address/invalid", test_invalid_address);
  g_test_add_func ("/qmp/client/address/missing-socket", test_missing_socket);
  g_test_add_func ("/qmp/client/address/not-a-socket", test_not_a_socket);
  g_test_add_func ("/qmp/client/address/stale-socket", test_stale_socket);
  g_test_add_func ("/qmp/client/connect/before-qemu", test_connect_before_qemu);
  ADD_UNCONNECTED ("address/stream", test_for_stream);
  ADD ("execute/arguments", test_arguments);
  ADD ("execute/pipeline", test_pipeline);
  ADD ("execute/pipeline-answered", test_pipeline_answered);
  ADD ("execute/error-classes", test_error_classes);
  ADD ("execute/unknown-id", test_unknown_id);
  ADD ("timeout/client", test_timeout_client);
  ADD ("timeout/per-call", test_timeout_per_call);
  ADD ("timeout/order", test_timeout_order);
  ADD ("cancel/after-send", test_cancel_after_send);
  ADD ("cancel/before-send", test_cancel_before_send);
  g_test_add_func ("/qmp/client/cancel/sync", test_cancel_sync);
  g_test_add_func ("/qmp/client/wire-trace", test_wire_trace);
  ADD ("broken/close-mid-line", test_close_mid_line);
  ADD ("broken/server-closes", test_server_closes);
  ADD ("broken/protocol-errors", test_protocol_errors);
  ADD ("broken/oversized", test_oversized);
  ADD ("broken/depth-limit", test_depth_limit);
  ADD_UNCONNECTED ("connect/async-from-connect-sync", test_async_from_connect_sync);
  ADD ("events/order", test_order);
  ADD ("events/detailed", test_detailed);
  ADD ("events/data", test_event_data);
  ADD ("reentrancy/sync-in-handler", test_sync_in_handler);
  ADD ("reentrancy/sync-in-callback", test_sync_in_callback);
  ADD ("reentrancy/nested-loop", test_nested_loop);
  ADD ("close/with-pending", test_close_with_pending);
  ADD ("close/dispose-with-pending", test_dispose_with_pending);
  ADD ("close/unref-with-pending", test_unref_with_pending);
  ADD ("close/unref-no-timeout", test_unref_no_timeout);
  ADD ("close/unref-reconnecting", test_unref_reconnecting);
  ADD_UNCONNECTED ("fault/close-every-greeting-offset", test_close_every_greeting_offset);
  ADD ("fault/close-every-reply-offset", test_close_every_reply_offset);
  ADD ("fault/duplicate-reply", test_duplicate_reply);
  ADD ("fault/nul-byte", test_nul_byte);
  ADD ("fault/peer-not-reading", test_peer_not_reading);
  ADD ("fault/storm-with-commands", test_storm_with_commands);
  ADD ("fault/dispose-reconnect-pending", test_dispose_reconnect_pending);
  ADD ("misuse/null-command", test_misuse);
  ADD ("misuse/other-thread", test_misuse_thread);

  return g_test_run ();
}
