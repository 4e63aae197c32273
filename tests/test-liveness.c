/* test-liveness.c: QmpClient:liveness-interval and QmpClient:responsive
 * against a scripted QMP server
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every wait is on a condition with a generous limit; the only timings
 * asserted are lower bounds (a check never fires before its time) and
 * upper bounds many times what they should take, so that a slow machine
 * (valgrind, a busy CI) makes no verdict.
 */

#include <string.h>

#include <qmpthin/qmpthin.h>

#include "qmp-fake-server.h"
#include "qmp-test-util.h"

#define WAIT_LIMIT_MS 20000
#define WAIT_FOR(expr) QMP_TEST_WAIT_FOR (expr, WAIT_LIMIT_MS)

/* Short, for quick tests; the checks fall on a grid of an eighth of it,
 * so either wait may end that much early. */
#define INTERVAL_MS 200
#define EARLIEST_US(n_intervals) ((gint64) (n_intervals) * INTERVAL_MS * 1000 * 7 / 8)

#define PROBE "query-jobs"
#define PROBE_REPLY "{\"return\": []}"
#define PROBE_RETURN "[]"

typedef struct {
  QmpFakeServer *server;
  QmpClient *client;
  guint n_notified;             /* notify::responsive */
  GArray *changes;              /* gboolean, from ::responsive-changed */
  gint64 changed_at;            /* monotonic time of the last change */
} Fixture;

static gboolean
on_quit_loop (gpointer user_data)
{
  g_main_loop_quit (user_data);
  return G_SOURCE_REMOVE;
}

/* Runs the main context for @ms: for what must NOT happen meanwhile. */
static void
run_for (guint ms)
{
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);

  g_timeout_add (ms, on_quit_loop, loop);
  g_main_loop_run (loop);
}

static void
on_notify_responsive (GObject    *object,
                      GParamSpec *pspec,
                      gpointer    user_data)
{
  Fixture *f = user_data;

  f->n_notified++;
}

static void
on_responsive_changed (QmpClient *client,
                       gboolean   responsive,
                       gpointer   user_data)
{
  Fixture *f = user_data;

  /* Right after the notification, with the same value. */
  g_assert_cmpuint (f->n_notified, ==, f->changes->len + 1);
  g_assert_cmpint (responsive, ==, qmp_client_get_responsive (client));
  g_array_append_val (f->changes, responsive);
  f->changed_at = g_get_monotonic_time ();
}

static void
drop_requests (QmpFakeServer *server)
{
  JsonObject *request;

  while ((request = qmp_fake_server_pop_request (server, 0)) != NULL)
    json_object_unref (request);
}

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->server = qmp_fake_server_new ();
  f->changes = g_array_new (FALSE, FALSE, sizeof (gboolean));
  f->client = qmp_client_new (qmp_fake_server_get_address (f->server));
  g_signal_connect (f->client, "notify::responsive", G_CALLBACK (on_notify_responsive), f);
  g_signal_connect (f->client, "responsive-changed", G_CALLBACK (on_responsive_changed), f);
  g_assert_false (qmp_client_get_responsive (f->client));
  g_assert_cmpuint (qmp_client_get_liveness_interval (f->client), ==, 0);

  g_assert_true (qmp_client_connect_sync (f->client, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (qmp_client_get_responsive (f->client));
  g_assert_cmpuint (f->changes->len, ==, 1);
  drop_requests (f->server);
  f->n_notified = 0;
  g_array_set_size (f->changes, 0);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  g_signal_handlers_disconnect_by_data (f->client, f);
  g_clear_object (&f->client);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  qmp_fake_server_free (f->server);
  g_array_unref (f->changes);
}

static gboolean
change_at (Fixture *f,
           guint    i)
{
  return g_array_index (f->changes, gboolean, i);
}

/* The next request, which must be the probe. */
static JsonObject *
wait_probe (Fixture *f)
{
  JsonObject *request = qmp_fake_server_wait_request (f->server, WAIT_LIMIT_MS);

  g_assert_cmpstr (json_object_get_string_member (request, "execute"), ==, PROBE);
  g_assert_false (json_object_has_member (request, "arguments"));
  return request;
}

/* ------------------------------------------------------------------------ */

/* Off by default: nothing is sent, and responsive follows the
 * connection. */
static void
test_off (Fixture       *f,
          gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  run_for (3 * INTERVAL_MS);
  g_assert_null (qmp_fake_server_pop_request (f->server, 0));
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);
  g_assert_true (qmp_client_get_responsive (f->client));
  g_assert_cmpuint (f->n_notified, ==, 0);

  g_assert_true (qmp_client_close_sync (f->client, NULL, &error));
  g_assert_false (qmp_client_get_responsive (f->client));
  g_assert_cmpuint (f->changes->len, ==, 1);
  g_assert_false (change_at (f, 0));
}

/* An idle connection is probed once an interval; answered, QEMU stays
 * responsive and nothing is notified. */
static void
test_idle_probe (Fixture       *f,
                 gconstpointer  data)
{
  gint64 start;

  qmp_fake_server_set_reply (f->server, PROBE, PROBE_REPLY);
  start = g_get_monotonic_time ();
  qmp_client_set_liveness_interval (f->client, INTERVAL_MS);
  g_assert_cmpuint (qmp_client_get_liveness_interval (f->client), ==, INTERVAL_MS);

  json_object_unref (wait_probe (f));
  /* Not before an interval of silence. */
  g_assert_cmpint (g_get_monotonic_time () - start, >=, EARLIEST_US (1));
  json_object_unref (wait_probe (f));
  json_object_unref (wait_probe (f));
  g_assert_true (qmp_client_get_responsive (f->client));
  g_assert_cmpuint (f->n_notified, ==, 0);

  /* Off again: no more probes. */
  qmp_client_set_liveness_interval (f->client, 0);
  WAIT_FOR (qmp_client_get_n_pending (f->client) == 0);
  drop_requests (f->server);
  run_for (3 * INTERVAL_MS);
  g_assert_null (qmp_fake_server_pop_request (f->server, 0));
  g_assert_true (qmp_client_get_responsive (f->client));
  g_assert_cmpuint (f->n_notified, ==, 0);
}

/* A server that stops answering is found silent after an unanswered
 * probe, once; one probe is all it is sent; it is responsive again as
 * soon as it answers. */
static void
test_silent (Fixture       *f,
             gconstpointer  data)
{
  g_autoptr(JsonObject) probe = NULL;
  gint64 start;

  qmp_fake_server_hold (f->server, PROBE);
  start = g_get_monotonic_time ();
  qmp_client_set_liveness_interval (f->client, INTERVAL_MS);
  probe = wait_probe (f);

  WAIT_FOR (f->changes->len == 1);
  g_assert_false (change_at (f, 0));
  g_assert_false (qmp_client_get_responsive (f->client));
  g_assert_cmpuint (f->n_notified, ==, 1);
  /* An interval of silence, then an interval without an answer; and
   * within a generous bound of the two. */
  g_assert_cmpint (f->changed_at - start, >=, EARLIEST_US (2));
  g_assert_cmpint (f->changed_at - start, <, EARLIEST_US (2) + 10 * G_USEC_PER_SEC);
  g_assert_cmpint (qmp_client_get_state (f->client), ==, QMP_CLIENT_STATE_READY);

  /* Nothing more while it is silent: no second probe, no second
   * notification. */
  run_for (3 * INTERVAL_MS);
  g_assert_null (qmp_fake_server_pop_request (f->server, 0));
  g_assert_cmpuint (f->n_notified, ==, 1);
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 1);

  /* The late answer. */
  qmp_fake_server_set_reply (f->server, PROBE, PROBE_REPLY);
  qmp_fake_server_reply (f->server, probe, PROBE_RETURN);
  WAIT_FOR (f->changes->len == 2);
  g_assert_true (change_at (f, 1));
  g_assert_true (qmp_client_get_responsive (f->client));
  WAIT_FOR (qmp_client_get_n_pending (f->client) == 0);

  /* Probed again, and answered: it stays responsive. */
  json_object_unref (wait_probe (f));
  json_object_unref (wait_probe (f));
  g_assert_cmpuint (f->changes->len, ==, 2);
}

/* An event is as good as an answer; a server that goes quiet again with
 * the probe still owed is silent again after an interval, without
 * another probe. */
static void
test_event_answers (Fixture       *f,
                    gconstpointer  data)
{
  g_autoptr(JsonObject) probe = NULL;
  gint64 spoke;

  qmp_fake_server_hold (f->server, PROBE);
  qmp_client_set_liveness_interval (f->client, INTERVAL_MS);
  probe = wait_probe (f);
  WAIT_FOR (f->changes->len == 1);
  g_assert_false (change_at (f, 0));

  spoke = g_get_monotonic_time ();
  qmp_fake_server_send_event (f->server, "RTC_CHANGE", "{\"offset\": 1}");
  WAIT_FOR (f->changes->len == 2);
  g_assert_true (change_at (f, 1));

  WAIT_FOR (f->changes->len == 3);
  g_assert_false (change_at (f, 2));
  g_assert_cmpint (f->changed_at - spoke, >=, EARLIEST_US (1));
  g_assert_null (qmp_fake_server_pop_request (f->server, 0));
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 1);

  /* Turning the check off makes it count as answering. */
  qmp_client_set_liveness_interval (f->client, 0);
  g_assert_cmpuint (f->changes->len, ==, 4);
  g_assert_true (change_at (f, 3));
  qmp_fake_server_reply (f->server, probe, PROBE_RETURN);
  WAIT_FOR (qmp_client_get_n_pending (f->client) == 0);
}

/* Traffic keeps the probe away: a server that sends an event every
 * 20 ms is never probed with an interval of 2 s. */
typedef struct {
  QmpFakeServer *server;
  guint n_left;
} Ticker;

static gboolean
on_tick (gpointer user_data)
{
  Ticker *ticker = user_data;

  qmp_fake_server_send_event (ticker->server, "RTC_CHANGE", "{\"offset\": 1}");
  if (--ticker->n_left > 0)
    return G_SOURCE_CONTINUE;
  return G_SOURCE_REMOVE;
}

static void
test_busy (Fixture       *f,
           gconstpointer  data)
{
  Ticker ticker = { f->server, 150 };

  qmp_client_set_liveness_interval (f->client, 2000);
  g_timeout_add (20, on_tick, &ticker);
  WAIT_FOR (ticker.n_left == 0);
  g_assert_null (qmp_fake_server_pop_request (f->server, 0));
  g_assert_true (qmp_client_get_responsive (f->client));
  g_assert_cmpuint (f->n_notified, ==, 0);
}

/* A command in flight keeps its own timeout: QEMU found silent fails
 * nothing, and the command fails once, with its own error. */
typedef struct {
  guint n_completions;
  GError *error;
  gint64 completed_at;
} Call;

static void
on_call_ready (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  Call *call = user_data;
  g_autoptr(JsonNode) value = qmp_client_execute_full_finish (QMP_CLIENT (source), result, &call->error);

  g_assert_null (value);
  call->n_completions++;
  call->completed_at = g_get_monotonic_time ();
}

static void
test_in_flight (Fixture       *f,
                gconstpointer  data)
{
  Call timed = { 0, NULL, 0 }, untimed = { 0, NULL, 0 };
  gint64 start;

  qmp_fake_server_hold (f->server, PROBE);
  qmp_fake_server_hold (f->server, "slow");
  qmp_client_set_liveness_interval (f->client, INTERVAL_MS);
  start = g_get_monotonic_time ();
  qmp_client_execute_full_async (f->client, "slow", NULL, 8 * INTERVAL_MS, NULL, on_call_ready, &timed);
  qmp_client_execute_full_async (f->client, "slow", NULL, QMP_TIMEOUT_NONE, NULL, on_call_ready, &untimed);

  WAIT_FOR (f->changes->len == 1);
  g_assert_false (change_at (f, 0));
  g_assert_cmpuint (timed.n_completions + untimed.n_completions, ==, 0);

  WAIT_FOR (timed.n_completions == 1);
  g_assert_error (timed.error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT);
  g_assert_nonnull (strstr (timed.error->message, "“slow” within 1600 ms"));
  g_assert_cmpint (timed.completed_at - start, >=, 8 * INTERVAL_MS * 1000);

  run_for (2 * INTERVAL_MS);
  g_assert_cmpuint (timed.n_completions, ==, 1);
  g_assert_cmpuint (untimed.n_completions, ==, 0);
  /* The untimed command and the probe. */
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 2);
  g_assert_cmpuint (f->changes->len, ==, 1);

  /* Closing fails what is left, once. */
  g_assert_true (qmp_client_close_sync (f->client, NULL, NULL));
  WAIT_FOR (untimed.n_completions == 1);
  g_assert_error (untimed.error, G_IO_ERROR, G_IO_ERROR_CLOSED);
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (timed.n_completions, ==, 1);
  g_assert_cmpuint (untimed.n_completions, ==, 1);
  g_clear_error (&timed.error);
  g_clear_error (&untimed.error);
}

/* The connection ends: not responsive, whatever the check said; a new
 * connection is. The check goes on with it. */
static void
test_reconnect (Fixture       *f,
                gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  qmp_fake_server_hold (f->server, PROBE);
  qmp_client_set_liveness_interval (f->client, INTERVAL_MS);
  json_object_unref (wait_probe (f));
  WAIT_FOR (f->changes->len == 1);
  g_assert_false (change_at (f, 0));

  qmp_fake_server_close_client (f->server);
  WAIT_FOR (qmp_client_get_state (f->client) == QMP_CLIENT_STATE_CLOSED);
  g_assert_false (qmp_client_get_responsive (f->client));
  g_assert_cmpuint (f->changes->len, ==, 1);
  g_assert_cmpuint (qmp_client_get_n_pending (f->client), ==, 0);

  qmp_fake_server_set_reply (f->server, PROBE, PROBE_REPLY);
  g_assert_true (qmp_client_connect_sync (f->client, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (f->changes->len, ==, 2);
  g_assert_true (change_at (f, 1));
  drop_requests (f->server);
  json_object_unref (wait_probe (f));
  json_object_unref (wait_probe (f));
  g_assert_true (qmp_client_get_responsive (f->client));
  g_assert_cmpuint (f->changes->len, ==, 2);
}

/* The properties, as GObject sees them: a change is notified once, the
 * same value not at all. */
static void
count_notify (GObject    *object,
              GParamSpec *pspec,
              gpointer    user_data)
{
  (*(guint *) user_data)++;
}

static void
test_properties (Fixture       *f,
                 gconstpointer  data)
{
  guint interval = 0;
  gboolean responsive = FALSE;
  guint n_notified = 0;

  g_signal_connect (f->client, "notify::liveness-interval", G_CALLBACK (count_notify), &n_notified);
  g_object_set (f->client, "liveness-interval", 5000, NULL);
  g_object_set (f->client, "liveness-interval", 5000, NULL);
  g_object_get (f->client, "liveness-interval", &interval, "responsive", &responsive, NULL);
  g_assert_cmpuint (interval, ==, 5000);
  g_assert_true (responsive);
  g_assert_cmpuint (n_notified, ==, 1);
  qmp_client_set_liveness_interval (f->client, 0);
  g_assert_cmpuint (n_notified, ==, 2);
  g_assert_cmpuint (f->n_notified, ==, 0);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) \
  g_test_add ("/qmp/liveness/" path, Fixture, NULL, fixture_setup, func, fixture_teardown)

  ADD ("off", test_off);
  ADD ("idle-probe", test_idle_probe);
  ADD ("silent", test_silent);
  ADD ("event-answers", test_event_answers);
  ADD ("busy", test_busy);
  ADD ("in-flight", test_in_flight);
  ADD ("reconnect", test_reconnect);
  ADD ("properties", test_properties);

#undef ADD

  return g_test_run ();
}
