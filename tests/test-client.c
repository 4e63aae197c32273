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

typedef struct {
  QmpFakeServer *server;
  QmpClient *client;
  GPtrArray *states;            /* QmpClientState as pointers, from notify::state */
  GPtrArray *log;               /* char*: deliveries in order */
  guint n_disconnected;
  GError *disconnect_error;
} Fixture;

/* Runs the default main context for a while (to show nothing else happens). */
static void
spin_for (guint ms)
{
  gint64 deadline = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (1000);
    }
}

static void
on_state (GObject    *object,
          GParamSpec *pspec,
          gpointer    user_data)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->states, GINT_TO_POINTER (qmp_client_get_state (QMP_CLIENT (object))));
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
fixture_new_client (Fixture    *f,
                    const char *address)
{
  f->client = qmp_client_new (address);
  g_signal_connect (f->client, "notify::state", G_CALLBACK (on_state), f);
  g_signal_connect (f->client, "event", G_CALLBACK (on_event_log), f);
  g_signal_connect (f->client, "disconnected", G_CALLBACK (on_disconnected), f);
}

/* The commands resync sends to a server that knows none of them. */
static void
drain_resync (QmpFakeServer *server)
{
  const char *expected[] = { "query-commands", "query-status" };

  for (gsize i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_autoptr(JsonObject) request = qmp_fake_server_pop_request (server, WAIT_LIMIT_MS);

      g_assert_nonnull (request);
      g_assert_cmpstr (json_object_get_string_member (request, "execute"), ==, expected[i]);
    }
}

static void
fixture_setup_unconnected (Fixture       *f,
                           gconstpointer  data)
{
  f->server = qmp_fake_server_new ();
  f->states = g_ptr_array_new ();
  f->log = g_ptr_array_new_with_free_func (g_free);
  fixture_new_client (f, qmp_fake_server_get_address (f->server));
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) request = NULL;

  fixture_setup_unconnected (f, data);
  g_assert_true (qmp_client_connect_sync (f->client, NULL, &error));
  g_assert_no_error (error);
  request = qmp_fake_server_pop_request (f->server, WAIT_LIMIT_MS);
  g_assert_nonnull (request);
  g_assert_cmpstr (json_object_get_string_member (request, "execute"), ==, "qmp_capabilities");
  drain_resync (f->server);
  g_ptr_array_set_size (f->states, 0);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_clear_object (&f->client);
  qmp_fake_server_free (f->server);
  g_ptr_array_unref (f->states);
  g_ptr_array_unref (f->log);
  g_clear_error (&f->disconnect_error);
}

/* ------------------------------------------------------------------------ */

static void
test_negotiate (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) request = NULL;
  const char * const *caps;

  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_DISCONNECTED);
  qmp_client_connect_async (f->client, NULL, qmp_test_store_result, &result);
  g_assert_true (qmp_client_connect_finish (f->client, qmp_test_wait_result (&result, WAIT_LIMIT_MS), &error));
  g_assert_no_error (error);

  g_assert_cmpuint (f->states->len, ==, 4);
  g_assert_cmpint (GPOINTER_TO_INT (f->states->pdata[0]), ==, QMP_CLIENT_STATE_CONNECTING);
  g_assert_cmpint (GPOINTER_TO_INT (f->states->pdata[1]), ==, QMP_CLIENT_STATE_NEGOTIATING);
  g_assert_cmpint (GPOINTER_TO_INT (f->states->pdata[2]), ==, QMP_CLIENT_STATE_SYNCING);
  g_assert_cmpint (GPOINTER_TO_INT (f->states->pdata[3]), ==, QMP_CLIENT_STATE_READY);

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

  request = qmp_fake_server_pop_request (f->server, WAIT_LIMIT_MS);
  g_assert_cmpstr (json_object_get_string_member (request, "execute"), ==, "qmp_capabilities");
  g_assert_true (json_object_has_member (request, "id"));
  g_assert_false (json_object_has_member (request, "arguments"));

  /* Connecting twice is refused. */
  g_assert_false (qmp_client_connect_sync (f->client, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS);
}

static void
test_bare_path (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(QmpClient) client = qmp_client_new (qmp_fake_server_get_path (f->server));
  g_autoptr(GError) error = NULL;

  g_assert_true (qmp_client_connect_sync (client, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (qmp_client_get_state (client), ==, QMP_CLIENT_STATE_READY);
  g_assert_cmpstr (qmp_client_get_address (client), ==, qmp_fake_server_get_path (f->server));
}

static void
test_invalid_address (void)
{
  const char *addresses[] = { "nonsense", "unix:", "tcp:localhost", "ftp://x" };

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
  g_autofree char *dir = g_dir_make_tmp ("qmpthin-refused-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "qmp.sock", NULL);
  g_autofree char *address = g_strconcat ("unix:", path, NULL);
  g_autoptr(GSocketAddress) socket_address = g_unix_socket_address_new (path);
  g_autoptr(GSocket) socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                            G_SOCKET_PROTOCOL_DEFAULT, NULL);
  g_autoptr(QmpClient) client = qmp_client_new (address);
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  gint64 start = g_get_monotonic_time ();

  g_assert_true (g_socket_bind (socket, socket_address, TRUE, NULL));

  /* Refused until the timeout. */
  qmp_client_set_connect_timeout (client, 300);
  g_assert_false (qmp_client_connect_sync (client, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 290 * 1000);
  g_clear_error (&error);

  /* Listening after a while: the connection goes through (no greeting
   * comes, so it ends in the greeting step). */
  g_timeout_add (150, start_listening, socket);
  qmp_client_connect_async (client, NULL, qmp_test_store_result, &result);
  g_assert_false (qmp_client_connect_finish (client, qmp_test_wait_result (&result, WAIT_LIMIT_MS), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "greeting"));

  g_socket_close (socket, NULL);
  g_unlink (path);
  g_rmdir (dir);
}

/* A minimal TCP peer in its own thread: the greeting, then an answer to
 * every command (only qmp_capabilities succeeds), until the client leaves. */
static gpointer
tcp_peer_thread (gpointer data)
{
  GSocketListener *listener = data;
  g_autoptr(GSocketConnection) connection = g_socket_listener_accept (listener, NULL, NULL, NULL);
  GOutputStream *out = g_io_stream_get_output_stream (G_IO_STREAM (connection));
  g_autoptr(GDataInputStream) in =
    g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  char *line;

  g_assert_true (g_output_stream_write_all (out, QMP_FAKE_GREETING, strlen (QMP_FAKE_GREETING),
                                            NULL, NULL, NULL));
  while ((line = g_data_input_stream_read_line (in, NULL, NULL, NULL)) != NULL)
    {
      g_autoptr(JsonNode) node = json_from_string (line, NULL);
      JsonObject *request = json_node_get_object (node);
      g_autofree char *id = json_to_string (json_object_get_member (request, "id"), FALSE);
      g_autofree char *reply = NULL;

      if (g_str_equal (json_object_get_string_member (request, "execute"), "qmp_capabilities"))
        reply = g_strdup_printf ("{\"return\": {}, \"id\": %s}\r\n", id);
      else
        reply = g_strdup_printf ("{\"id\": %s, \"error\": {\"class\": \"CommandNotFound\", "
                                 "\"desc\": \"not here\"}}\r\n", id);
      g_assert_true (g_output_stream_write_all (out, reply, strlen (reply), NULL, NULL, NULL));
      g_free (line);
    }
  return NULL;
}

static void
test_tcp (void)
{
  g_autoptr(GSocketListener) listener = g_socket_listener_new ();
  g_autoptr(GInetAddress) loopback = g_inet_address_new_loopback (G_SOCKET_FAMILY_IPV4);
  g_autoptr(GSocketAddress) any = g_inet_socket_address_new (loopback, 0);
  g_autoptr(GSocketAddress) bound = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpClient) client = NULL;
  g_autofree char *address = NULL;
  GThread *thread;

  g_assert_true (g_socket_listener_add_address (listener, any, G_SOCKET_TYPE_STREAM,
                                                G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error));
  g_assert_no_error (error);
  address = g_strdup_printf ("tcp:127.0.0.1:%u",
                             g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound)));
  thread = g_thread_new ("tcp-peer", tcp_peer_thread, listener);

  client = qmp_client_new (address);
  g_assert_true (qmp_client_connect_sync (client, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (qmp_client_get_qemu_version (client), ==, "7.2.22");
  g_assert_true (qmp_client_close_sync (client, NULL, &error));
  g_thread_join (thread);
}

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

  connection = g_socket_client_connect (socket_client, G_SOCKET_CONNECTABLE (address), NULL, &error);
  g_assert_no_error (error);
  client = qmp_client_new_for_stream (G_IO_STREAM (connection));
  g_assert_null (qmp_client_get_address (client));
  g_assert_true (qmp_client_connect_sync (client, NULL, &error));
  g_assert_no_error (error);

  qmp_fake_server_set_reply (f->server, "query-status",
                             "{\"return\": {\"status\": \"running\", \"running\": true}}");
  value = qmp_client_execute_sync (client, "query-status", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (json_object_get_string_member (json_node_get_object (value), "status"), ==, "running");

  /* A stream cannot be opened again once closed. */
  g_assert_true (qmp_client_close_sync (client, NULL, NULL));
  g_assert_false (qmp_client_connect_sync (client, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
}

/* ------------------------------------------------------------------------ */

typedef struct {
  guint index;
  guint *n_done;
  GPtrArray *order;
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
  g_ptr_array_add (call->order, GUINT_TO_POINTER (call->index));
  (*call->n_done)++;
  g_free (call);
}

static void
test_pipeline (Fixture       *f,
               gconstpointer  data)
{
  const guint n = 1000;
  guint n_done = 0;
  g_autoptr(GPtrArray) order = g_ptr_array_new ();
  g_autoptr(GPtrArray) requests = g_ptr_array_new_with_free_func ((GDestroyNotify) json_object_unref);
  g_autoptr(GHashTable) ids = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GString) replies = g_string_new (NULL);

  qmp_fake_server_hold (f->server, "echo");
  for (guint i = 0; i < n; i++)
    {
      g_autoptr(JsonObject) arguments = json_object_new ();
      PipelineCall *call = g_new0 (PipelineCall, 1);

      call->index = i;
      call->n_done = &n_done;
      call->order = order;
      json_object_set_int_member (arguments, "n", i);
      qmp_client_execute_async (f->client, "echo", arguments, NULL, pipeline_ready, call);
    }
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, n);

  /* The server thread collects the requests while this thread runs the
   * client's context, which writes them. */
  while (requests->len < n)
    {
      JsonObject *request;

      g_main_context_iteration (NULL, FALSE);
      request = qmp_fake_server_pop_request (f->server, 10);
      if (request != NULL)
        {
          const char *id = json_object_get_string_member (request, "id");

          g_assert_false (g_hash_table_contains (ids, id));
          g_hash_table_add (ids, (gpointer) id);
          g_ptr_array_add (requests, request);
        }
    }

  /* Answer in reverse order, in one write. */
  for (guint i = n; i-- > 0;)
    {
      JsonObject *request = requests->pdata[i];
      JsonObject *arguments = json_object_get_object_member (request, "arguments");

      g_string_append_printf (replies, "{\"return\": {\"n\": %" G_GINT64_FORMAT "}, \"id\": \"%s\"}\r\n",
                              json_object_get_int_member (arguments, "n"),
                              json_object_get_string_member (request, "id"));
    }
  qmp_fake_server_send (f->server, replies->str);

  while (n_done < n)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (order->len, ==, n);
  /* Delivered in wire order: the reverse of the sending order. */
  for (guint i = 0; i < n; i++)
    g_assert_cmpuint (GPOINTER_TO_UINT (order->pdata[i]), ==, n - 1 - i);
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);
  spin_for (50);
  g_assert_cmpuint (n_done, ==, n);
}

/* 1000 commands in flight, answered as they come: the figure is reported
 * for comparison with a real QEMU, never asserted. */
static void
test_pipeline_answered (Fixture       *f,
                        gconstpointer  data)
{
  const guint n = 1000;
  guint n_done = 0;
  g_autoptr(GPtrArray) order = g_ptr_array_new ();
  gint64 start;
  double elapsed;

  qmp_fake_server_set_reply (f->server, "echo", "{\"return\": {\"n\": 0}}");
  start = g_get_monotonic_time ();
  for (guint i = 0; i < n; i++)
    {
      PipelineCall *call = g_new0 (PipelineCall, 1);

      call->n_done = &n_done;
      call->order = order;
      qmp_client_execute_async (f->client, "echo", NULL, NULL, pipeline_ready, call);
    }
  while (n_done < n)
    g_main_context_iteration (NULL, TRUE);
  elapsed = (g_get_monotonic_time () - start) / 1e6;
  g_test_message ("1000 pipelined commands against the fake server: %.3f s (%.0f commands/s)",
                  elapsed, n / elapsed);
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);
}

/* ------------------------------------------------------------------------ */

static void
test_timeout (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) result2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) request = NULL;
  g_autoptr(JsonNode) value = NULL;
  gint64 start;

  qmp_fake_server_hold (f->server, "slow");
  qmp_client_set_command_timeout (f->client, 100);
  g_assert_cmpuint (qmp_client_get_command_timeout (f->client), ==, 100);

  start = g_get_monotonic_time ();
  qmp_client_execute_async (f->client, "slow", NULL, NULL, qmp_test_store_result, &result);
  g_assert_null (qmp_client_execute_finish (f->client, qmp_test_wait_result (&result, WAIT_LIMIT_MS), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 90 * 1000);
  g_assert_nonnull (strstr (error->message, "slow"));
  g_clear_error (&error);

  /* The late reply is dropped quietly (a warning would abort the test). */
  request = qmp_fake_server_pop_request (f->server, WAIT_LIMIT_MS);
  qmp_fake_server_reply (f->server, request, "{}");
  qmp_fake_server_flush (f->server);
  spin_for (50);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_READY);

  /* A per-call timeout overrides "none" on the client. */
  qmp_client_set_command_timeout (f->client, 0);
  start = g_get_monotonic_time ();
  qmp_client_execute_full_async (f->client, "slow", NULL, 50, NULL, qmp_test_store_result, &result2);
  g_assert_null (qmp_client_execute_finish (f->client, qmp_test_wait_result (&result2, WAIT_LIMIT_MS), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_cmpint (g_get_monotonic_time () - start, <, 5 * G_USEC_PER_SEC);
  g_clear_error (&error);

  /* And for _sync. */
  g_assert_null (qmp_client_execute_full_sync (f->client, "slow", NULL, 50, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_clear_error (&error);

  value = qmp_client_execute_sync (f->client, "qmp_capabilities", NULL, NULL, &error);
  g_assert_error (error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_COMMAND_NOT_FOUND);
}

static void
test_cancel (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(GCancellable) cancellable = g_cancellable_new ();
  g_autoptr(GCancellable) cancelled = g_cancellable_new ();
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) result2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) request = NULL;
  g_autoptr(JsonObject) none = NULL;

  qmp_fake_server_hold (f->server, "slow");
  qmp_client_execute_async (f->client, "slow", NULL, cancellable, qmp_test_store_result, &result);
  request = qmp_fake_server_pop_request (f->server, 10);
  while (request == NULL)
    {
      g_main_context_iteration (NULL, FALSE);
      request = qmp_fake_server_pop_request (f->server, 10);
    }
  g_cancellable_cancel (cancellable);
  g_assert_null (qmp_client_execute_finish (f->client, qmp_test_wait_result (&result, WAIT_LIMIT_MS), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_clear_error (&error);

  /* The late reply is dropped quietly. */
  qmp_fake_server_reply (f->server, request, "{}");
  qmp_fake_server_flush (f->server);
  spin_for (50);

  /* Cancelled before: fails at once, nothing is sent. */
  g_cancellable_cancel (cancelled);
  qmp_client_execute_async (f->client, "slow", NULL, cancelled, qmp_test_store_result, &result2);
  g_assert_null (qmp_client_execute_finish (f->client, qmp_test_wait_result (&result2, WAIT_LIMIT_MS), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  spin_for (50);
  none = qmp_fake_server_pop_request (f->server, 50);
  g_assert_null (none);
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);
}

static void
test_unknown_id (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = NULL;

  g_test_expect_message ("Qmp", G_LOG_LEVEL_WARNING, "*unknown id*bogus*");
  qmp_fake_server_send (f->server, "{\"return\": {}, \"id\": \"bogus\"}\r\n");
  qmp_fake_server_flush (f->server);
  spin_for (100);
  g_test_assert_expected_messages ();

  qmp_fake_server_set_reply (f->server, "ping", "{\"return\": 42}");
  value = qmp_client_execute_sync (f->client, "ping", NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (json_node_get_int (value), ==, 42);
  g_assert_cmpuint (f->n_disconnected, ==, 0);
}

static void
test_error_classes (Fixture       *f,
                    gconstpointer  data)
{
  const struct {
    const char *class;
    int code;
  } cases[] = {
    { "GenericError", QMP_COMMAND_ERROR_GENERIC_ERROR },
    { "CommandNotFound", QMP_COMMAND_ERROR_COMMAND_NOT_FOUND },
    { "DeviceNotActive", QMP_COMMAND_ERROR_DEVICE_NOT_ACTIVE },
    { "DeviceNotFound", QMP_COMMAND_ERROR_DEVICE_NOT_FOUND },
    { "KVMMissingCap", QMP_COMMAND_ERROR_KVM_MISSING_CAP },
    { "BrandNewClass", QMP_COMMAND_ERROR_UNKNOWN },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *command = g_strdup_printf ("fail-%zu", i);
      g_autofree char *reply = g_strdup_printf ("{\"error\": {\"class\": \"%s\", \"desc\": \"Went wrong: %zu\"}}",
                                                cases[i].class, i);
      g_autofree char *desc = g_strdup_printf ("Went wrong: %zu", i);
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) value = NULL;

      qmp_fake_server_set_reply (f->server, command, reply);
      value = qmp_client_execute_sync (f->client, command, NULL, NULL, &error);
      g_assert_null (value);
      g_assert_error (error, QMP_COMMAND_ERROR, cases[i].code);
      g_assert_cmpstr (error->message, ==, desc);
      g_assert_cmpstr (qmp_command_error_get_class_name (error), ==, cases[i].class);
    }

  {
    g_autoptr(GError) error = NULL;
    g_autoptr(JsonNode) value = qmp_client_execute_sync (f->client, "no-such-command", NULL, NULL, &error);

    g_assert_error (error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_COMMAND_NOT_FOUND);
    g_assert_cmpstr (error->message, ==, "The command no-such-command has not been found");
  }
  g_assert_cmpuint (f->n_disconnected, ==, 0);
}

/* QMP_DEBUG=wire logs every line, both ways, with g_debug(). */
static void
test_wire_trace (void)
{
  g_autoptr(QmpFakeServer) server = qmp_fake_server_new ();
  g_autoptr(QmpClient) client = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = NULL;

  g_setenv ("QMP_DEBUG", "wire", TRUE);
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
/* Broken peers */

static void
assert_closed_with (Fixture       *f,
                    GAsyncResult **result,
                    GQuark         domain,
                    int            code)
{
  g_autoptr(GError) error = NULL;

  g_assert_null (qmp_client_execute_finish (f->client, qmp_test_wait_result (result, WAIT_LIMIT_MS), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  while (f->n_disconnected == 0)
    g_main_context_iteration (NULL, TRUE);
  spin_for (50);
  g_assert_cmpuint (f->n_disconnected, ==, 1);
  g_assert_error (f->disconnect_error, domain, code);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_CLOSED);
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);
}

static void
test_close_mid_line (Fixture       *f,
                     gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;

  qmp_fake_server_hold (f->server, "slow");
  qmp_client_execute_async (f->client, "slow", NULL, NULL, qmp_test_store_result, &result);
  qmp_fake_server_send (f->server, "{\"return\": {}, \"id\"");
  qmp_fake_server_close_client (f->server);
  assert_closed_with (f, &result, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

static void
test_malformed (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  qmp_fake_server_hold (f->server, "slow");
  qmp_client_execute_async (f->client, "slow", NULL, NULL, qmp_test_store_result, &result);
  qmp_fake_server_send (f->server, "{\"return\": {], \"id\": 1}\r\n");
  assert_closed_with (f, &result, QMP_ERROR, QMP_ERROR_PROTOCOL);

  /* Later calls fail at once with CLOSED. */
  g_assert_null (qmp_client_execute_sync (f->client, "x", NULL, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
}

static void
test_non_object (Fixture       *f,
                 gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;

  qmp_fake_server_hold (f->server, "slow");
  qmp_client_execute_async (f->client, "slow", NULL, NULL, qmp_test_store_result, &result);
  qmp_fake_server_send (f->server, "[1, 2]\r\n");
  assert_closed_with (f, &result, QMP_ERROR, QMP_ERROR_PROTOCOL);
}

static void
test_oversized (Fixture       *f,
                gconstpointer  data)
{
  const gsize limit = 4096;
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GAsyncResult) result2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) request = NULL;
  g_autoptr(JsonNode) value = NULL;
  g_autoptr(GString) line = g_string_new (NULL);
  gsize fill;

  qmp_client_set_max_message_size (f->client, limit);
  g_assert_cmpuint (qmp_client_get_max_message_size (f->client), ==, limit);
  qmp_fake_server_hold (f->server, "big");

  /* Exactly at the limit (CRLF excluded): accepted. */
  qmp_client_execute_async (f->client, "big", NULL, NULL, qmp_test_store_result, &result);
  while ((request = qmp_fake_server_pop_request (f->server, 10)) == NULL)
    g_main_context_iteration (NULL, FALSE);
  g_string_printf (line, "{\"return\": \"\", \"id\": \"%s\"}", json_object_get_string_member (request, "id"));
  fill = limit - line->len;
  g_string_insert_len (line, strlen ("{\"return\": \""), NULL, 0);
  {
    g_autofree char *pad = g_strnfill (fill, 'a');
    g_string_insert (line, strlen ("{\"return\": \""), pad);
  }
  g_assert_cmpuint (line->len, ==, limit);
  g_string_append (line, "\r\n");
  qmp_fake_server_send (f->server, line->str);
  value = qmp_client_execute_finish (f->client, qmp_test_wait_result (&result, WAIT_LIMIT_MS), &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (json_node_get_string (value)), ==, fill);
  g_clear_pointer (&request, json_object_unref);

  /* One byte over: the connection is closed. */
  qmp_client_execute_async (f->client, "big", NULL, NULL, qmp_test_store_result, &result2);
  while ((request = qmp_fake_server_pop_request (f->server, 10)) == NULL)
    g_main_context_iteration (NULL, FALSE);
  {
    g_autofree char *pad = g_strnfill (limit + 1, ' ');
    qmp_fake_server_send (f->server, pad);
  }
  assert_closed_with (f, &result2, QMP_ERROR, QMP_ERROR_MESSAGE_TOO_LARGE);
}

static void
test_server_closes (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;

  qmp_fake_server_hold (f->server, "slow");
  qmp_client_execute_async (f->client, "slow", NULL, NULL, qmp_test_store_result, &result);
  qmp_fake_server_send_event (f->server, "SHUTDOWN", "{\"guest\": false}");
  qmp_fake_server_close_client (f->server);
  assert_closed_with (f, &result, G_IO_ERROR, G_IO_ERROR_CLOSED);
  /* The event read before the end was delivered, then the end. */
  g_assert_cmpuint (f->log->len, ==, 2);
  g_assert_cmpstr (f->log->pdata[0], ==, "event SHUTDOWN");
  g_assert_cmpstr (f->log->pdata[1], ==, "disconnected");
}

/* ------------------------------------------------------------------------ */
/* Connect failures */

static void
test_bad_greeting (Fixture       *f,
                   gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  qmp_fake_server_set_greeting (f->server, "{\"hello\": \"world\"}\r\n");
  g_assert_false (qmp_client_connect_sync (f->client, NULL, &error));
  g_assert_error (error, QMP_ERROR, QMP_ERROR_INVALID_GREETING);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_DISCONNECTED);
  g_clear_error (&error);

  qmp_fake_server_set_greeting (f->server, "{\"QMP\": {\"version\": 7}}\r\n");
  g_assert_false (qmp_client_connect_sync (f->client, NULL, &error));
  g_assert_error (error, QMP_ERROR, QMP_ERROR_INVALID_GREETING);
  g_clear_error (&error);

  /* The client can try again. */
  qmp_fake_server_set_greeting (f->server, QMP_FAKE_GREETING);
  g_assert_true (qmp_client_connect_sync (f->client, NULL, &error));
  g_assert_no_error (error);
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
  g_assert_false (qmp_client_connect_sync (f->client, NULL, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (error->message, "another client"));
  g_assert_cmpint (g_get_monotonic_time () - start, >=, 190 * 1000);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_DISCONNECTED);
}

static void
test_close_mid_greeting (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;

  qmp_fake_server_set_greeting (f->server, NULL);
  qmp_client_connect_async (f->client, NULL, qmp_test_store_result, &result);
  while (qmp_fake_server_get_n_connections (f->server) == 0)
    g_main_context_iteration (NULL, FALSE);
  qmp_fake_server_send (f->server, "{\"QMP\": {\"version\": {\"qemu\":");
  qmp_fake_server_close_client (f->server);
  g_assert_false (qmp_client_connect_finish (f->client, qmp_test_wait_result (&result, WAIT_LIMIT_MS), &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_DISCONNECTED);
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
}

static void
test_not_connected (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  g_assert_null (qmp_client_execute_sync (f->client, "query-status", NULL, NULL, &error));
  g_assert_error (error, QMP_ERROR, QMP_ERROR_NOT_CONNECTED);
}

/* ------------------------------------------------------------------------ */
/* Ordering and re-entrancy */

static void
log_reply (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  Fixture *f = user_data;
  g_autoptr(JsonNode) value = qmp_client_execute_finish (QMP_CLIENT (source), result, NULL);

  g_assert_nonnull (value);
  g_ptr_array_add (f->log, g_strdup_printf ("reply %s", json_node_get_string (value)));
}

static void
test_order (Fixture       *f,
            gconstpointer  data)
{
  g_autoptr(JsonObject) request = NULL;

  qmp_fake_server_hold (f->server, "slow");
  qmp_client_execute_async (f->client, "slow", NULL, NULL, log_reply, f);
  while ((request = qmp_fake_server_pop_request (f->server, 10)) == NULL)
    g_main_context_iteration (NULL, FALSE);

  qmp_fake_server_send_event (f->server, "A", NULL);
  qmp_fake_server_reply (f->server, request, "\"x\"");
  qmp_fake_server_send_event (f->server, "B", "{\"k\": 1}");
  while (f->log->len < 3)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (f->log->pdata[0], ==, "event A");
  g_assert_cmpstr (f->log->pdata[1], ==, "reply x");
  g_assert_cmpstr (f->log->pdata[2], ==, "event B");
}

static void
on_stop_only (QmpClient *client,
              QmpEvent  *event,
              gpointer   user_data)
{
  GPtrArray *names = user_data;

  g_ptr_array_add (names, g_strdup (qmp_event_get_name (event)));
}

static void
test_detailed (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  QmpEvent *event;

  g_signal_connect (f->client, "event::STOP", G_CALLBACK (on_stop_only), names);
  qmp_fake_server_send_event (f->server, "RESUME", NULL);
  qmp_fake_server_send_event (f->server, "STOP", NULL);
  qmp_fake_server_send_event (f->server, "NEVER_SEEN_BEFORE_EVENT", "{}");
  while (f->log->len < 3)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (names->len, ==, 1);
  g_assert_cmpstr (names->pdata[0], ==, "STOP");
  g_assert_cmpstr (f->log->pdata[2], ==, "event NEVER_SEEN_BEFORE_EVENT");

  /* Events without data get an empty object. */
  event = qmp_event_new ("STOP", 1, NULL);
  g_assert_cmpuint (json_object_get_size (qmp_event_get_data (event)), ==, 0);
  g_object_unref (event);
}

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

static void
test_sync_in_handler (Fixture       *f,
                      gconstpointer  data)
{
  qmp_fake_server_set_reply (f->server, "inner", "{\"return\": \"done\"}");
  g_signal_connect_after (f->client, "event", G_CALLBACK (on_event_sync_call), f);
  qmp_fake_server_send_event (f->server, "FIRST", NULL);
  qmp_fake_server_send_event (f->server, "SECOND", NULL);
  while (f->log->len < 4)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (f->log->pdata[0], ==, "event FIRST");
  g_assert_cmpstr (f->log->pdata[1], ==, "handler start");
  g_assert_cmpstr (f->log->pdata[2], ==, "sync done");
  g_assert_cmpstr (f->log->pdata[3], ==, "event SECOND");
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
  qmp_fake_server_set_reply (f->server, "outer", "{\"return\": {}}");
  qmp_fake_server_set_reply (f->server, "inner", "{\"return\": \"done\"}");
  qmp_client_execute_async (f->client, "outer", NULL, NULL, sync_in_callback_ready, f);
  while (f->log->len < 2)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (f->log->pdata[0], ==, "callback");
  g_assert_cmpstr (f->log->pdata[1], ==, "sync done");
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

  nested->value = qmp_client_execute_finish (QMP_CLIENT (source), result, NULL);
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

static void
test_nested_loop (Fixture       *f,
                  gconstpointer  data)
{
  qmp_fake_server_set_reply (f->server, "inner", "{\"return\": \"done\"}");
  g_signal_connect_after (f->client, "event", G_CALLBACK (on_event_nested_loop), f);
  qmp_fake_server_send_event (f->server, "FIRST", NULL);
  qmp_fake_server_send_event (f->server, "SECOND", NULL);
  while (f->log->len < 3)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpstr (f->log->pdata[0], ==, "event FIRST");
  /* The nested loop went on delivering, in order, while waiting. */
  g_assert_true ((g_str_equal (f->log->pdata[1], "event SECOND") &&
                  g_str_equal (f->log->pdata[2], "nested done")) ||
                 (g_str_equal (f->log->pdata[1], "nested done") &&
                  g_str_equal (f->log->pdata[2], "event SECOND")));
}

/* ------------------------------------------------------------------------ */
/* Closing */

static void
count_closed (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  guint *n = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = qmp_client_execute_finish (QMP_CLIENT (source), result, &error);

  g_assert_null (value);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  (*n)++;
}

static void
test_close_with_pending (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GAsyncResult) result = NULL;
  g_autoptr(GError) error = NULL;
  guint n_failed = 0;

  qmp_fake_server_hold (f->server, "slow");
  for (guint i = 0; i < 3; i++)
    qmp_client_execute_async (f->client, "slow", NULL, NULL, count_closed, &n_failed);
  qmp_client_close_async (f->client, NULL, qmp_test_store_result, &result);
  g_assert_true (qmp_client_close_finish (f->client, qmp_test_wait_result (&result, WAIT_LIMIT_MS), &error));
  g_assert_no_error (error);
  while (n_failed < 3)
    g_main_context_iteration (NULL, TRUE);
  spin_for (50);
  g_assert_cmpuint (n_failed, ==, 3);
  g_assert_cmpuint (f->n_disconnected, ==, 1);
  g_assert_null (f->disconnect_error);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_CLOSED);

  /* Closing again does nothing. */
  g_assert_true (qmp_client_close_sync (f->client, NULL, NULL));
  g_assert_cmpuint (f->n_disconnected, ==, 1);

  /* And the client can connect again. */
  g_assert_true (qmp_client_connect_sync (f->client, NULL, &error));
  g_assert_no_error (error);
}

static void
test_dispose_with_pending (Fixture       *f,
                           gconstpointer  data)
{
  guint n_failed = 0;

  qmp_fake_server_hold (f->server, "slow");
  for (guint i = 0; i < 3; i++)
    qmp_client_execute_async (f->client, "slow", NULL, NULL, count_closed, &n_failed);
  g_object_run_dispose (G_OBJECT (f->client));
  while (n_failed < 3)
    g_main_context_iteration (NULL, TRUE);
  spin_for (50);
  g_assert_cmpuint (n_failed, ==, 3);
  g_assert_cmpuint (f->n_disconnected, ==, 1);
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

  ADD_UNCONNECTED ("negotiate", test_negotiate);
  ADD_UNCONNECTED ("address/bare-path", test_bare_path);
  g_test_add_func ("/qmp/client/address/invalid", test_invalid_address);
  g_test_add_func ("/qmp/client/address/missing-socket", test_missing_socket);
  g_test_add_func ("/qmp/client/address/tcp", test_tcp);
  g_test_add_func ("/qmp/client/connect/refused-retry", test_refused_retry);
  ADD_UNCONNECTED ("address/stream", test_for_stream);
  ADD ("pipeline", test_pipeline);
  ADD ("pipeline-answered", test_pipeline_answered);
  ADD ("timeout", test_timeout);
  ADD ("cancel", test_cancel);
  ADD ("unknown-id", test_unknown_id);
  ADD ("error-classes", test_error_classes);
  g_test_add_func ("/qmp/client/wire-trace", test_wire_trace);
  ADD ("broken/close-mid-line", test_close_mid_line);
  ADD ("broken/malformed-json", test_malformed);
  ADD ("broken/non-object", test_non_object);
  ADD ("broken/oversized", test_oversized);
  ADD ("broken/server-closes", test_server_closes);
  ADD_UNCONNECTED ("connect/bad-greeting", test_bad_greeting);
  ADD_UNCONNECTED ("connect/no-greeting", test_no_greeting);
  ADD_UNCONNECTED ("connect/close-mid-greeting", test_close_mid_greeting);
  ADD_UNCONNECTED ("connect/negotiation-refused", test_negotiation_refused);
  ADD_UNCONNECTED ("connect/not-connected", test_not_connected);
  ADD ("order", test_order);
  ADD ("detailed", test_detailed);
  ADD ("reentrancy/sync-in-handler", test_sync_in_handler);
  ADD ("reentrancy/sync-in-callback", test_sync_in_callback);
  ADD ("reentrancy/nested-loop", test_nested_loop);
  ADD ("close/with-pending", test_close_with_pending);
  ADD ("close/dispose-with-pending", test_dispose_with_pending);

  return g_test_run ();
}
