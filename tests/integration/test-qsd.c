/* test-qsd.c: a real qemu-storage-daemon, which has no run state
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The daemon exports a raw file over NBD on a UNIX socket; qemu-io writes
 * through the export, which crosses the write thresholds armed on the
 * file node.
 */

#include <unistd.h>

#include <glib/gstdio.h>
#include <qmpthin/qmpthin.h>

#include "qemu-rig.h"

#define WAIT_LIMIT_MS 30000
#define MiB (1024 * 1024)

typedef struct {
  QmpTestQemu *daemon;
  char *disks;                  /* owned: the image's directory */
  char *nbd;                    /* owned: the export's URI */
  GPtrArray *thresholds;        /* QmpWriteThresholdEvent */
} Fixture;

static void
on_threshold (QmpClient              *client,
              QmpWriteThresholdEvent *event,
              gpointer                user_data)
{
  g_ptr_array_add (((Fixture *) user_data)->thresholds, g_object_ref (event));
}

/* QEMU's tools, without the sanitizer runtime a sanitized build preloads. */
static void
run_tool (const char * const *argv)
{
  g_auto(GStrv) env = g_get_environ ();
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status;

  env = g_environ_unsetenv (env, "LD_PRELOAD");
  env = g_environ_unsetenv (env, "ASAN_OPTIONS");
  env = g_environ_unsetenv (env, "UBSAN_OPTIONS");
  g_assert_true (g_spawn_sync (NULL, (char **) argv, env, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &out, &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("%s failed: %s\n%s%s", argv[0], error->message, out, err);
}

static void
nbd_io (Fixture    *f,
        const char *command)
{
  g_autofree char *qemu_io = qmp_test_qemu_find_tool ("qemu-io");
  const char *argv[] = { qemu_io, "-f", "raw", "-c", command, f->nbd, NULL };

  run_tool (argv);
}

static gboolean
fixture_start (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *image = NULL;
  g_autofree char *file = NULL;

  f->thresholds = g_ptr_array_new_with_free_func (g_object_unref);
  if (!qmp_test_storage_daemon_require ())
    return FALSE;

  f->disks = g_dir_make_tmp ("qmpthin-disks-XXXXXX", &error);
  g_assert_no_error (error);
  image = g_build_filename (f->disks, "data.raw", NULL);
  g_assert_true (g_file_set_contents (image, "", 0, NULL));
  g_assert_cmpint (truncate (image, 64 * MiB), ==, 0);

  file = g_strdup_printf ("driver=file,node-name=data-file,filename=%s", image);
  {
    const char *args[] = {
      "--blockdev", file,
      "--nbd-server", "addr.type=unix,addr.path=@DIR@/nbd.sock",
      "--export", "type=nbd,id=exp0,node-name=data-file,name=data,writable=on",
      NULL
    };

    f->daemon = qmp_test_storage_daemon_start (args);
  }
  f->nbd = g_strdup_printf ("nbd+unix:///data?socket=%s/nbd.sock", qmp_test_qemu_get_dir (f->daemon));
  return TRUE;
}

static void
fixture_stop (Fixture *f)
{
  g_clear_pointer (&f->daemon, qmp_test_qemu_free);
  g_clear_pointer (&f->thresholds, g_ptr_array_unref);
  if (f->disks != NULL)
    {
      g_autofree char *image = g_build_filename (f->disks, "data.raw", NULL);

      g_unlink (image);
      g_assert_cmpint (g_rmdir (f->disks), ==, 0);
      g_clear_pointer (&f->disks, g_free);
    }
  g_clear_pointer (&f->nbd, g_free);
}

static QmpClient *
connect_client (Fixture *f)
{
  QmpClient *client = qmp_client_new (qmp_test_qemu_get_address (f->daemon));
  g_autoptr(GError) error = NULL;

  g_signal_connect (client, "block-write-threshold", G_CALLBACK (on_threshold), f);
  g_assert_true (qmp_client_connect_sync (client, NULL, &error));
  g_assert_no_error (error);
  return client;
}

static void
wait_thresholds (Fixture *f,
                 guint    n)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_LIMIT_MS * 1000;

  while (f->thresholds->len < n)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  /* And nothing more. */
  for (guint i = 0; i < 50; i++)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (2000);
    }
  g_assert_cmpuint (f->thresholds->len, ==, n);
}

static guint64
node_threshold (QmpClient  *client,
                const char *node_name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) nodes = qmp_client_query_named_block_nodes_sync (client, NULL, &error);

  g_assert_no_error (error);
  for (guint i = 0; i < nodes->len; i++)
    if (g_str_equal (qmp_block_node_get_node_name (nodes->pdata[i]), node_name))
      return qmp_block_node_get_write_threshold (nodes->pdata[i]);
  g_assert_not_reached ();
}

/* No run state: the stop reason does not apply, and the VM commands are
 * refused as QEMU refuses them. */
static void
test_no_run_state (void)
{
  Fixture f = { 0, };
  g_autoptr(QmpClient) client = NULL;
  g_autoptr(QmpStatusInfo) status = NULL;
  g_autoptr(GError) error = NULL;
  QmpStopReason *reason;

  if (!fixture_start (&f))
    return;
  client = connect_client (&f);
  g_assert_cmpint (qmp_client_get_state (client), ==, QMP_CLIENT_STATE_READY);
  reason = qmp_client_get_stop_reason (client);
  g_assert_cmpint (qmp_stop_reason_get_kind (reason), ==, QMP_STOP_KIND_NOT_APPLICABLE);
  g_assert_false (qmp_stop_reason_is_paused (reason));

  status = qmp_client_query_status_sync (client, NULL, &error);
  g_assert_null (status);
  g_assert_error (error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_COMMAND_NOT_FOUND);
  g_clear_object (&client);
  fixture_stop (&f);
}

/* Writes through the NBD export cross the threshold armed on the file
 * node: one-shot, then armed again. */
static void
test_threshold (void)
{
  Fixture f = { 0, };
  g_autoptr(QmpClient) client = NULL;
  g_autoptr(GError) error = NULL;
  QmpWriteThresholdEvent *event;

  if (!fixture_start (&f))
    return;
  client = connect_client (&f);
  g_assert_true (qmp_client_set_write_threshold_sync (client, "data-file", 1 * MiB, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (node_threshold (client, "data-file"), ==, 1 * MiB);

  nbd_io (&f, "write -P 0xab 0 2M");
  wait_thresholds (&f, 1);
  event = f.thresholds->pdata[0];
  g_assert_false (qmp_event_get_derived (QMP_EVENT (event)));
  g_assert_cmpstr (qmp_write_threshold_event_get_node_name (event), ==, "data-file");
  g_assert_cmpuint (qmp_write_threshold_event_get_write_threshold (event), ==, 1 * MiB);
  g_assert_cmpuint (qmp_write_threshold_event_get_amount_exceeded (event), >, 0);
  g_assert_cmpuint (qmp_write_threshold_event_get_end_offset (event), <=, 2 * MiB);
  g_assert_cmpuint (node_threshold (client, "data-file"), ==, 0);

  g_assert_true (qmp_client_set_write_threshold_sync (client, "data-file", 3 * MiB, NULL, &error));
  nbd_io (&f, "write -P 0xcd 2M 2M");
  wait_thresholds (&f, 2);
  g_assert_cmpuint (qmp_write_threshold_event_get_write_threshold (f.thresholds->pdata[1]), ==, 3 * MiB);

  /* What was written is there. */
  nbd_io (&f, "read -P 0xab 0 2M");
  nbd_io (&f, "read -P 0xcd 2M 2M");
  g_clear_object (&client);
  fixture_stop (&f);
}

/* Thresholds that fired while nobody was connected: derived on
 * reconnection, for the same client and for a new one told what had been
 * armed. */
static void
test_missed (void)
{
  Fixture f = { 0, };
  g_autoptr(QmpClient) client = NULL;
  g_autoptr(QmpClient) restarted = NULL;
  g_autoptr(GError) error = NULL;
  QmpWriteThresholdEvent *event;
  gint64 start;

  if (!fixture_start (&f))
    return;
  client = connect_client (&f);
  g_assert_true (qmp_client_set_write_threshold_sync (client, "data-file", 1 * MiB, NULL, &error));
  g_assert_true (qmp_client_close_sync (client, NULL, &error));
  nbd_io (&f, "write -P 0xab 0 2M");

  start = g_get_monotonic_time ();
  g_assert_true (qmp_client_connect_sync (client, NULL, &error));
  g_assert_no_error (error);
  g_test_message ("connect and resync of qemu-storage-daemon: %.1f ms", (g_get_monotonic_time () - start) / 1e3);
  g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (client)), ==,
                   QMP_STOP_KIND_NOT_APPLICABLE);
  wait_thresholds (&f, 1);
  event = f.thresholds->pdata[0];
  g_assert_true (qmp_event_get_derived (QMP_EVENT (event)));
  g_assert_cmpstr (qmp_write_threshold_event_get_node_name (event), ==, "data-file");
  g_assert_cmpuint (qmp_write_threshold_event_get_write_threshold (event), ==, 1 * MiB);
  g_assert_cmpuint (qmp_write_threshold_event_get_amount_exceeded (event), ==, QMP_AMOUNT_EXCEEDED_UNKNOWN);
  g_assert_true (qmp_client_close_sync (client, NULL, &error));

  /* A restarted agent, which persisted its threshold. */
  g_clear_object (&client);
  client = connect_client (&f);
  g_assert_true (qmp_client_set_write_threshold_sync (client, "data-file", 3 * MiB, NULL, &error));
  g_assert_no_error (error);
  g_ptr_array_set_size (f.thresholds, 0);
  g_assert_true (qmp_client_close_sync (client, NULL, &error));
  nbd_io (&f, "write -P 0xab 2M 2M");
  restarted = qmp_client_new (qmp_test_qemu_get_address (f.daemon));
  g_signal_connect (restarted, "block-write-threshold", G_CALLBACK (on_threshold), &f);
  qmp_client_declare_write_threshold (restarted, "data-file", 3 * MiB);
  g_assert_true (qmp_client_connect_sync (restarted, NULL, &error));
  g_assert_no_error (error);
  wait_thresholds (&f, 1);
  g_assert_true (qmp_event_get_derived (QMP_EVENT (f.thresholds->pdata[0])));
  g_assert_cmpuint (qmp_write_threshold_event_get_write_threshold (f.thresholds->pdata[0]), ==, 3 * MiB);

  g_clear_object (&restarted);
  g_clear_object (&client);
  fixture_stop (&f);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/qmp/qsd/no-run-state", test_no_run_state);
  g_test_add_func ("/qmp/qsd/threshold", test_threshold);
  g_test_add_func ("/qmp/qsd/missed", test_missed);

  return g_test_run ();
}
