/* test-fleet.c: many clients in one process against a fleet of fake VMs
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * An agent on a host runs one QmpClient per VM. 200 clients connect to
 * bench/fake-qmp's fleet (one socket per VM, path in QMP_FAKE_QMP), each
 * handler must get the event broadcast to all of them, and the memory a
 * connected client costs must stay bounded.
 */

#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>

#include <glib/gstdio.h>
#include <qmpthin/qmpthin.h>

/* Per connected client, a loose bound: a client that kept large buffers
 * or per-client threads would exceed it. */
#define MAX_RSS_PER_CLIENT_KIB 64
#define WAIT_LIMIT_S 20

typedef struct _Fleet Fleet;

typedef struct
{
  Fleet *fleet;
  QmpClient *client;
  guint n_events;
} Vm;

struct _Fleet
{
  char *dir;
  GSubprocess *server;
  QmpClient *control;
  Vm *vms;
  guint n_vms;
  guint n_ready;
  guint n_reached;              /* handlers that got their first event */
  gboolean replied;
};

static gboolean
under_address_sanitizer (void)
{
#if defined(__SANITIZE_ADDRESS__)
  return TRUE;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
  return TRUE;
#endif
#endif
  return FALSE;
}

static gboolean
under_valgrind (void)
{
  const char *preload = g_getenv ("LD_PRELOAD");

  return preload != NULL && strstr (preload, "valgrind") != NULL;
}

/* VmRSS in KiB. */
static gint64
rss_kib (void)
{
  g_autofree char *status = NULL;
  const char *line;

  g_assert_true (g_file_get_contents ("/proc/self/status", &status, NULL, NULL));
  line = strstr (status, "\nVmRSS:");
  g_assert_nonnull (line);
  return g_ascii_strtoll (line + strlen ("\nVmRSS:"), NULL, 10);
}

static gboolean
on_wait_limit (gpointer user_data)
{
  g_error ("the fleet did not get there within %d s", WAIT_LIMIT_S);
  return G_SOURCE_REMOVE;
}

#define WAIT_FOR(condition) \
  G_STMT_START { \
    guint limit_ = g_timeout_add_seconds (WAIT_LIMIT_S, on_wait_limit, NULL); \
    while (!(condition)) \
      g_main_context_iteration (NULL, TRUE); \
    g_source_remove (limit_); \
  } G_STMT_END

/* A failed assertion aborts the test: the fake must not outlive it (the
 * test runner would wait for its inherited stdout to close). */
static void
die_with_parent (gpointer user_data)
{
  prctl (PR_SET_PDEATHSIG, SIGTERM);
}

static void
fleet_start (Fleet *fleet,
             guint  n_vms)
{
  const char *fake = g_getenv ("QMP_FAKE_QMP");
  g_autofree char *n = g_strdup_printf ("%u", n_vms);
  g_autofree char *control = NULL;
  g_autofree char *address = NULL;
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GError) error = NULL;
  struct rlimit limit;

  /* Each client holds a socket. */
  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max)
    {
      limit.rlim_cur = limit.rlim_max;
      setrlimit (RLIMIT_NOFILE, &limit);
    }
  g_assert_true (getrlimit (RLIMIT_NOFILE, &limit) == 0);
  g_assert_cmpuint (limit.rlim_cur, >, n_vms + 64);

  g_assert_nonnull (fake);
  fleet->dir = g_dir_make_tmp ("qmp-fleet-XXXXXX", &error);
  g_assert_no_error (error);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  fleet->server = g_subprocess_launcher_spawn (launcher, &error,
                                               fake, "--fleet", fleet->dir, "--vms", n, NULL);
  g_assert_no_error (error);

  /* control.sock appears last, once every VM socket listens. */
  control = g_build_filename (fleet->dir, "control.sock", NULL);
  for (guint i = 0; !g_file_test (control, G_FILE_TEST_EXISTS); i++)
    {
      g_assert_cmpuint (i, <, WAIT_LIMIT_S * 100);
      g_usleep (10 * 1000);
    }
  address = g_strdup_printf ("unix:%s", control);
  fleet->control = qmp_client_new (address);
  qmp_client_connect_sync (fleet->control, NULL, &error);
  g_assert_no_error (error);
}

static void
fleet_stop (Fleet *fleet)
{
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < fleet->n_vms; i++)
    g_clear_object (&fleet->vms[i].client);
  g_clear_pointer (&fleet->vms, g_free);
  g_clear_object (&fleet->control);

  /* It removes its socket files on SIGTERM. */
  g_subprocess_send_signal (fleet->server, SIGTERM);
  g_subprocess_wait (fleet->server, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&fleet->server);
  g_assert_cmpint (g_rmdir (fleet->dir), ==, 0);
  g_clear_pointer (&fleet->dir, g_free);
}

static void
on_connected (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Fleet *fleet = user_data;
  g_autoptr(GError) error = NULL;

  qmp_client_connect_finish (QMP_CLIENT (source), result, &error);
  g_assert_no_error (error);
  fleet->n_ready++;
}

static void
on_threshold (QmpClient              *client,
              QmpWriteThresholdEvent *event,
              Vm                     *vm)
{
  g_assert_cmpstr (qmp_write_threshold_event_get_node_name (event), ==, "data-fmt");
  g_assert_false (qmp_event_get_derived (QMP_EVENT (event)));
  if (vm->n_events++ == 0)
    vm->fleet->n_reached++;
}

static void
on_broadcast (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  Fleet *fleet = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = qmp_client_execute_finish (QMP_CLIENT (source), result, &error);

  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (value));
  g_assert_cmpint (json_object_get_int_member (json_node_get_object (value), "connections"),
                   ==, fleet->n_vms);
  fleet->replied = TRUE;
}

static void
test_broadcast (void)
{
  guint n_vms = 200;
  g_autoptr(JsonObject) arguments = json_object_new ();
  Fleet fleet = { NULL, };
  gint64 rss_before, rss_after;
  double per_client;

  fleet_start (&fleet, n_vms);
  rss_before = rss_kib ();

  fleet.n_vms = n_vms;
  fleet.vms = g_new0 (Vm, n_vms);
  for (guint i = 0; i < n_vms; i++)
    {
      g_autofree char *address = g_strdup_printf ("unix:%s/vm-%05u.sock", fleet.dir, i);
      Vm *vm = &fleet.vms[i];

      vm->fleet = &fleet;
      vm->client = qmp_client_new (address);
      g_signal_connect (vm->client, "block-write-threshold", G_CALLBACK (on_threshold), vm);
      qmp_client_connect_async (vm->client, NULL, on_connected, &fleet);
    }
  WAIT_FOR (fleet.n_ready == n_vms);
  for (guint i = 0; i < n_vms; i++)
    g_assert_cmpint (qmp_client_get_state (fleet.vms[i].client), ==, QMP_CLIENT_STATE_READY);

  rss_after = rss_kib ();
  per_client = (double) (rss_after - rss_before) / n_vms;
  g_test_message ("%u clients connected: RSS %" G_GINT64_FORMAT " -> %" G_GINT64_FORMAT
                  " KiB, %.1f KiB per client", n_vms, rss_before, rss_after, per_client);
  /* valgrind and AddressSanitizer (its redzones and quarantine) inflate
   * every allocation: the bound holds for the library as built. */
  if (!under_valgrind () && !under_address_sanitizer ())
    g_assert_cmpfloat (per_client, <, MAX_RSS_PER_CLIENT_KIB);

  json_object_set_int_member (arguments, "count", 1);
  qmp_client_execute_async (fleet.control, "x-fake-broadcast", arguments, NULL, on_broadcast, &fleet);
  WAIT_FOR (fleet.replied && fleet.n_reached == n_vms);

  /* Nothing more comes: every handler got exactly the one event. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
  for (guint i = 0; i < n_vms; i++)
    g_assert_cmpuint (fleet.vms[i].n_events, ==, 1);

  fleet_stop (&fleet);
}

typedef struct
{
  Fleet *fleet;
  guint n_completed;            /* connect callbacks, all clients */
  guint n_failed;
  guint *calls;                 /* connect callbacks, per client */
} CloseOthers;

static void
on_connected_close_others (GObject      *source,
                           GAsyncResult *result,
                           gpointer      user_data)
{
  CloseOthers *co = user_data;
  Fleet *fleet = co->fleet;
  g_autoptr(GError) error = NULL;
  guint self = G_MAXUINT;

  for (guint i = 0; i < fleet->n_vms; i++)
    if (fleet->vms[i].client == QMP_CLIENT (source))
      self = i;
  g_assert_cmpuint (self, <, fleet->n_vms);
  co->calls[self]++;

  if (!qmp_client_connect_finish (QMP_CLIENT (source), result, &error))
    {
      co->n_failed++;
      g_assert_true (error->domain == G_IO_ERROR);
    }
  else if (co->n_completed == 0)
    {
      /* The first client ready closes all the others, which are still
       * connecting: their sockets may be ready in the very batch being
       * dispatched. Each must complete once, and nothing must run for
       * them afterwards. */
      for (guint i = 0; i < fleet->n_vms; i++)
        if (i != self)
          g_assert_true (qmp_client_close_sync (fleet->vms[i].client, NULL, NULL));
    }
  co->n_completed++;
}

static void
test_close_others_while_connecting (void)
{
  guint n_vms = 50;
  Fleet fleet = { NULL, };
  CloseOthers co = { &fleet, 0, 0, NULL };

  fleet_start (&fleet, n_vms);
  fleet.n_vms = n_vms;
  fleet.vms = g_new0 (Vm, n_vms);
  co.calls = g_new0 (guint, n_vms);
  for (guint i = 0; i < n_vms; i++)
    {
      g_autofree char *address = g_strdup_printf ("unix:%s/vm-%05u.sock", fleet.dir, i);

      fleet.vms[i].fleet = &fleet;
      fleet.vms[i].client = qmp_client_new (address);
    }
  for (guint i = 0; i < n_vms; i++)
    qmp_client_connect_async (fleet.vms[i].client, NULL, on_connected_close_others, &co);
  WAIT_FOR (co.n_completed == n_vms);

  while (g_main_context_iteration (NULL, FALSE))
    ;
  for (guint i = 0; i < n_vms; i++)
    g_assert_cmpuint (co.calls[i], ==, 1);
  /* All but the first were closed, unless they were ready already. */
  g_assert_cmpuint (co.n_failed, >, 0);
  g_test_message ("%u of %u connects ended by the close", co.n_failed, n_vms);

  g_free (co.calls);
  fleet_stop (&fleet);
}

/* The highest descriptor open in this process below @limit (valgrind
 * keeps descriptors of its own above the limit it reports). */
static int
highest_fd (rlim_t limit)
{
  g_autoptr(GDir) dir = g_dir_open ("/proc/self/fd", 0, NULL);
  const char *name;
  int highest = -1;

  g_assert_nonnull (dir);
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      gint64 fd = g_ascii_strtoll (name, NULL, 10);

      if ((rlim_t) fd < limit)
        highest = MAX (highest, (int) fd);
    }
  return highest;
}

typedef struct
{
  guint n_ok;
  guint n_refused;
} FdLimit;

static void
on_connected_fd_limit (GObject      *source,
                       GAsyncResult *result,
                       gpointer      user_data)
{
  FdLimit *counts = user_data;
  g_autoptr(GError) error = NULL;

  if (qmp_client_connect_finish (QMP_CLIENT (source), result, &error))
    {
      counts->n_ok++;
      return;
    }
  /* Clear: which error, and which VM. */
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_TOO_MANY_OPEN_FILES);
  g_assert_nonnull (strstr (error->message, qmp_client_get_address (QMP_CLIENT (source))));
  g_assert_cmpint (qmp_client_get_state (QMP_CLIENT (source)), ==, QMP_CLIENT_STATE_DISCONNECTED);
  counts->n_refused++;
}

/* Past the process's descriptor limit, connecting fails with a clear
 * error and leaves the client usable: once the limit is raised, it
 * connects. */
static void
test_fd_limit (void)
{
  guint n_vms = 20;
  Fleet fleet = { NULL, };
  FdLimit counts = { 0, 0 };
  struct rlimit saved, low;

  fleet_start (&fleet, n_vms);
  fleet.n_vms = n_vms;
  fleet.vms = g_new0 (Vm, n_vms);
  for (guint i = 0; i < n_vms; i++)
    {
      g_autofree char *address = g_strdup_printf ("unix:%s/vm-%05u.sock", fleet.dir, i);

      fleet.vms[i].fleet = &fleet;
      fleet.vms[i].client = qmp_client_new (address);
    }

  g_assert_cmpint (getrlimit (RLIMIT_NOFILE, &saved), ==, 0);
  low = saved;
  low.rlim_cur = highest_fd (saved.rlim_cur) + 1 + 5;
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &low), ==, 0);
  for (guint i = 0; i < n_vms; i++)
    qmp_client_connect_async (fleet.vms[i].client, NULL, on_connected_fd_limit, &counts);
  WAIT_FOR (counts.n_ok + counts.n_refused == n_vms);
  g_assert_cmpint (setrlimit (RLIMIT_NOFILE, &saved), ==, 0);
  g_test_message ("%u connected, %u refused for lack of descriptors", counts.n_ok, counts.n_refused);
  g_assert_cmpuint (counts.n_ok, >=, 1);
  g_assert_cmpuint (counts.n_refused, >=, 1);

  for (guint i = 0; i < n_vms; i++)
    if (qmp_client_get_state (fleet.vms[i].client) != QMP_CLIENT_STATE_READY)
      {
        g_autoptr(GError) error = NULL;

        g_assert_true (qmp_client_connect_sync (fleet.vms[i].client, NULL, &error));
        g_assert_no_error (error);
      }

  fleet_stop (&fleet);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/fleet/broadcast", test_broadcast);
  g_test_add_func ("/fleet/close-others-while-connecting", test_close_others_while_connecting);
  g_test_add_func ("/fleet/fd-limit", test_fd_limit);

  return g_test_run ();
}
