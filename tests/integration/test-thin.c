/* test-thin.c: thin provisioning against a real QEMU whose storage runs out
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The data disk is qcow2 on a raw node with size= on a file: writes past
 * the raw node's size fail with ENOSPC like a full logical volume, and a
 * blockdev-reopen with a larger size grows it (QEMU-FACTS §3-§4). A
 * boot-sector guest (guest/boot.S) fills the disk.
 */

#include <signal.h>
#include <string.h>

#include <glib/gstdio.h>
#include <qmpthin/qmpthin.h>

#include "qemu-rig.h"

#define WAIT_LIMIT_MS 60000
#define MiB (1024 * 1024)

typedef struct {
  QmpEvent *event;
  gint64 received;              /* monotonic time of the signal */
} Seen;

typedef struct {
  QmpTestQemu *qemu;
  char *disks;                  /* owned: the disks' directory */
  QmpClient *client;
  GArray *seen;                 /* Seen */
  guint n_typed_io_errors;
  guint n_typed_thresholds;
} Fixture;

static void
seen_clear (Seen *seen)
{
  g_clear_object (&seen->event);
}

static void
on_event (QmpClient *client,
          QmpEvent  *event,
          gpointer   user_data)
{
  Fixture *f = user_data;
  Seen seen = { g_object_ref (event), g_get_monotonic_time () };

  g_array_append_val (f->seen, seen);
}

static void
on_io_error (QmpClient            *client,
             QmpBlockIoErrorEvent *event,
             gpointer              user_data)
{
  ((Fixture *) user_data)->n_typed_io_errors++;
}

static void
on_threshold (QmpClient              *client,
              QmpWriteThresholdEvent *event,
              gpointer                user_data)
{
  ((Fixture *) user_data)->n_typed_thresholds++;
}

static void
run_tool (const char * const *argv)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  int status;

  g_assert_true (g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
                               &out, &err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    g_error ("%s failed: %s\n%s%s", argv[0], error->message, out, err);
}

/* The data disk: @virtual_mib of qcow2 in a sparse @container_mib file. */
static void
make_data_disk (const char *dir,
                guint       virtual_mib,
                guint       container_mib)
{
  g_autofree char *path = g_build_filename (dir, "data.qcow2", NULL);
  g_autofree char *size = g_strdup_printf ("%uM", virtual_mib);
  g_autofree char *qemu_img = qmp_test_qemu_find_tool ("qemu-img");
  const char *create[] = { qemu_img, "create", "-q", "-f", "qcow2", path, size, NULL };

  run_tool (create);
  g_assert_cmpint (truncate (path, (off_t) container_mib * MiB), ==, 0);
}

static void
make_boot_disk (const char *dir)
{
  const char *guest = g_getenv ("QMP_TEST_GUEST_BOOT");
  g_autofree char *path = g_build_filename (dir, "boot.img", NULL);
  g_autofree char *sector = NULL;
  gsize length;

  g_assert_nonnull (guest);
  g_assert_true (g_file_get_contents (guest, &sector, &length, NULL));
  g_assert_cmpuint (length, ==, 512);
  g_assert_cmpuint ((guchar) sector[510], ==, 0x55);
  g_assert_cmpuint ((guchar) sector[511], ==, 0xaa);
  g_assert_true (g_file_set_contents (path, sector, length, NULL));
  g_assert_cmpint (truncate (path, MiB), ==, 0);
}

/* QEMU quits; every byte the guest wrote landed: a clean image, all 0x5A,
 * checked with the tools of the QEMU in use. */
static void
check_every_byte (Fixture *f,
                  guint    virtual_mib)
{
  g_autoptr(JsonNode) value = qmp_client_execute_sync (f->client, "quit", NULL, NULL, NULL);
  g_autofree char *image = g_build_filename (f->disks, "data.qcow2", NULL);
  g_autofree char *qemu_img = qmp_test_qemu_find_tool ("qemu-img");
  g_autofree char *qemu_io = qmp_test_qemu_find_tool ("qemu-io");
  g_autofree char *pattern = g_strdup_printf ("read -P 0x5a 0 %uM", virtual_mib);
  const char *check[] = { qemu_img, "check", "-q", image, NULL };
  const char *read[] = { qemu_io, "-f", "qcow2", "-r", "-c", pattern, image, NULL };

  g_assert_true (qmp_test_qemu_wait_exit (f->qemu, 10000));
  run_tool (check);
  run_tool (read);
}

/* Starts QEMU paused in its own directory, with the disks made first. */
static gboolean
fixture_start (Fixture            *f,
               const char * const *args,
               gboolean            with_guest,
               guint               virtual_mib)
{
  g_autoptr(GError) error = NULL;

  f->seen = g_array_new (FALSE, TRUE, sizeof (Seen));
  g_array_set_clear_func (f->seen, (GDestroyNotify) seen_clear);
  if (!qmp_test_qemu_require ())
    return FALSE;

  /* The disks must exist before QEMU opens them, and outlive it when it
   * is started again: a directory of their own. */
  f->disks = g_dir_make_tmp ("qmpthin-disks-XXXXXX", &error);
  g_assert_no_error (error);
  make_data_disk (f->disks, virtual_mib, MAX (64, virtual_mib + 16));
  if (with_guest)
    make_boot_disk (f->disks);
  {
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);

    for (guint i = 0; args[i] != NULL; i++)
      {
        g_auto(GStrv) parts = g_strsplit (args[i], "@DISKS@", -1);

        g_ptr_array_add (argv, g_strjoinv (f->disks, parts));
      }
    g_ptr_array_add (argv, NULL);
    f->qemu = qmp_test_qemu_start ((const char * const *) argv->pdata);
  }

  f->client = qmp_client_new (qmp_test_qemu_get_address (f->qemu));
  g_signal_connect (f->client, "event", G_CALLBACK (on_event), f);
  g_signal_connect (f->client, "block-io-error", G_CALLBACK (on_io_error), f);
  g_signal_connect (f->client, "block-write-threshold", G_CALLBACK (on_threshold), f);
  qmp_client_connect_sync (f->client, NULL, &error);
  g_assert_no_error (error);
  return TRUE;
}

static void
fixture_stop (Fixture *f)
{
  g_clear_object (&f->client);
  g_clear_pointer (&f->qemu, qmp_test_qemu_free);
  g_clear_pointer (&f->seen, g_array_unref);
  if (f->disks != NULL)
    {
      const char *names[] = { "data.qcow2", "boot.img" };

      for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
        {
          g_autofree char *path = g_build_filename (f->disks, names[i], NULL);

          g_unlink (path);
        }
      g_assert_cmpint (g_rmdir (f->disks), ==, 0);
      g_clear_pointer (&f->disks, g_free);
    }
}

/* Waits for an event named @name at or after index *from; returns it and
 * moves *from past it. */
static Seen *
wait_event (Fixture    *f,
            const char *name,
            guint      *from)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_LIMIT_MS * 1000;

  for (;;)
    {
      for (; *from < f->seen->len; (*from)++)
        {
          Seen *seen = &g_array_index (f->seen, Seen, *from);

          if (g_str_equal (qmp_event_get_name (seen->event), name))
            {
              (*from)++;
              return seen;
            }
        }
      if (g_get_monotonic_time () >= deadline)
        {
          for (guint i = 0; i < f->seen->len; i++)
            g_test_message ("seen: %s", qmp_event_get_name (g_array_index (f->seen, Seen, i).event));
          g_error ("no %s event within %d ms", name, WAIT_LIMIT_MS);
        }
      g_main_context_iteration (NULL, TRUE);
    }
}

static void
hmp (QmpClient  *client,
     const char *command_line)
{
  g_autoptr(JsonObject) arguments = json_object_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = NULL;

  json_object_set_string_member (arguments, "command-line", command_line);
  value = qmp_client_execute_sync (client, "human-monitor-command", arguments, NULL, &error);
  g_assert_no_error (error);
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

static guint64
node_highest_offset (QmpClient  *client,
                     const char *node_name)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) stats = qmp_client_query_blockstats_sync (client, TRUE, NULL, &error);

  g_assert_no_error (error);
  for (guint i = 0; i < stats->len; i++)
    if (g_strcmp0 (qmp_block_stats_get_node_name (stats->pdata[i]), node_name) == 0)
      return qmp_block_stats_get_wr_highest_offset (stats->pdata[i]);
  g_assert_not_reached ();
}

/* Grows the "logical volume" (the raw node's size=) and chooses what is
 * under it: data-file, or data-eio where every write fails with EIO. */
static void
reopen_limit_on (QmpClient  *client,
                 const char *file,
                 guint64     size)
{
  g_autoptr(JsonObject) arguments = json_object_new ();
  g_autoptr(JsonArray) options = json_array_new ();
  g_autoptr(JsonObject) raw = json_object_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = NULL;

  /* blockdev-reopen resets whatever is left out: restate every option. */
  json_object_set_string_member (raw, "driver", "raw");
  json_object_set_string_member (raw, "node-name", "data-lim");
  json_object_set_string_member (raw, "file", file);
  json_object_set_int_member (raw, "size", (gint64) size);
  json_array_add_object_element (options, g_steal_pointer (&raw));
  json_object_set_array_member (arguments, "options", g_steal_pointer (&options));
  value = qmp_client_execute_sync (client, "blockdev-reopen", arguments, NULL, &error);
  g_assert_no_error (error);
}

static void
reopen_limit (QmpClient *client,
              guint64    size)
{
  reopen_limit_on (client, "data-file", size);
}

#define DATA_STACK(limit) \
  "-blockdev", "driver=file,node-name=data-file,filename=@DISKS@/data.qcow2", \
  "-blockdev", "driver=raw,node-name=data-lim,file=data-file,size=" limit, \
  "-blockdev", "driver=qcow2,node-name=data-fmt,file=data-lim"

/* The same stack through -drive, which names the device "drive-data". */
#define DRIVE_STACK(policy) \
  "-drive", "if=none,id=drive-data,driver=qcow2,node-name=data-fmt,file.driver=raw," \
            "file.node-name=data-lim,file.file.driver=file,file.file.node-name=data-file," \
            "file.file.filename=@DISKS@/data.qcow2,file.size=2097152," policy, \
  "-device", "virtio-blk-pci,drive=drive-data,id=datadisk"

#define GUEST \
  "-machine", "pc,accel=tcg", "-m", "32", "-S", "-serial", "file:@DIR@/serial.log", \
  "-blockdev", "driver=file,node-name=boot-file,filename=@DISKS@/boot.img", \
  "-blockdev", "driver=raw,node-name=boot-fmt,file=boot-file", \
  "-device", "ide-hd,bus=ide.0,unit=0,drive=boot-fmt,id=bootdisk,bootindex=0"

/* 1. Thresholds without a guest: qemu-io writes through the monitor. */
static void
test_threshold (void)
{
  const char *args[] = { "-machine", "none", DATA_STACK ("33554432"), NULL };
  Fixture f = { 0, };
  g_autoptr(GError) error = NULL;
  QmpWriteThresholdEvent *event;
  guint from = 0;

  if (!fixture_start (&f, args, FALSE, 64))
    return;

  g_assert_true (qmp_client_set_write_threshold_sync (f.client, "data-file", 1 * MiB, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (node_threshold (f.client, "data-file"), ==, 1 * MiB);

  hmp (f.client, "qemu-io data-fmt \"write -P 0xab 0 2M\"");
  event = QMP_WRITE_THRESHOLD_EVENT (wait_event (&f, "BLOCK_WRITE_THRESHOLD", &from)->event);
  g_assert_cmpstr (qmp_write_threshold_event_get_node_name (event), ==, "data-file");
  g_assert_cmpuint (qmp_write_threshold_event_get_write_threshold (event), ==, 1 * MiB);
  /* On the storage node, the crossing write ends at the allocation's
   * high-water mark. */
  g_assert_cmpuint (qmp_write_threshold_event_get_amount_exceeded (event), >, 0);
  g_assert_cmpuint (qmp_write_threshold_event_get_end_offset (event), ==,
                    node_highest_offset (f.client, "data-file"));
  g_assert_cmpuint (f.n_typed_thresholds, ==, 1);

  /* One-shot: disarmed once fired. */
  g_assert_cmpuint (node_threshold (f.client, "data-file"), ==, 0);

  /* Re-arm above the allocation, cross it again. */
  g_assert_true (qmp_client_set_write_threshold_sync (f.client, "data-file", 3 * MiB, NULL, &error));
  g_assert_cmpuint (node_threshold (f.client, "data-file"), ==, 3 * MiB);
  hmp (f.client, "qemu-io data-fmt \"write -P 0xab 2M 2M\"");
  event = QMP_WRITE_THRESHOLD_EVENT (wait_event (&f, "BLOCK_WRITE_THRESHOLD", &from)->event);
  g_assert_cmpuint (qmp_write_threshold_event_get_write_threshold (event), ==, 3 * MiB);
  g_assert_cmpuint (f.n_typed_thresholds, ==, 2);

  /* 0 disarms. */
  g_assert_true (qmp_client_set_write_threshold_sync (f.client, "data-file", 5 * MiB, NULL, &error));
  g_assert_true (qmp_client_set_write_threshold_sync (f.client, "data-file", 0, NULL, &error));
  g_assert_cmpuint (node_threshold (f.client, "data-file"), ==, 0);

  g_assert_false (qmp_client_set_write_threshold_sync (f.client, "nosuch", 1, NULL, &error));
  g_assert_error (error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_GENERIC_ERROR);
  g_assert_cmpstr (error->message, ==, "Device 'nosuch' not found");

  fixture_stop (&f);
}

static char *
serial_log (Fixture *f)
{
  g_autofree char *path = g_build_filename (qmp_test_qemu_get_dir (f->qemu), "serial.log", NULL);
  char *contents = NULL;

  g_file_get_contents (path, &contents, NULL, NULL);
  return contents ? contents : g_strdup ("");
}

static QmpBlockInfo *
data_disk (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) blocks = qmp_client_query_block_sync (f->client, NULL, &error);

  g_assert_no_error (error);
  for (guint i = 0; i < blocks->len; i++)
    if (g_strcmp0 (qmp_block_info_get_node_name (blocks->pdata[i]), "data-fmt") == 0)
      return g_object_ref (blocks->pdata[i]);
  g_assert_not_reached ();
}

/* 2 and 3. A real ENOSPC pause, then extend and resume until the guest
 * filled its disk, and check that every byte landed. */
static void
test_enospc (void)
{
  const char *args[] = {
    GUEST, DATA_STACK ("2097152"),
    "-device", "virtio-blk-pci,drive=data-fmt,id=datadisk,werror=enospc,rerror=stop",
    NULL
  };
  const guint virtual_mib = 16;
  Fixture f = { 0, };
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpStatusInfo) status = NULL;
  g_autoptr(QmpBlockInfo) disk = NULL;
  QmpBlockIoErrorEvent *io_error;
  QmpWriteThresholdEvent *threshold;
  Seen *seen;
  guint64 limit = 2 * MiB;
  guint from = 0, pauses = 0;
  gint64 cont_time;

  if (!fixture_start (&f, args, TRUE, virtual_mib))
    return;

  g_assert_true (qmp_client_set_write_threshold_sync (f.client, "data-file", 1 * MiB, NULL, &error));
  g_assert_no_error (error);
  cont_time = g_get_monotonic_time ();
  g_assert_true (qmp_client_cont_sync (f.client, NULL, &error));
  g_assert_no_error (error);

  /* In order: RESUME, the threshold, the ENOSPC error, STOP. */
  wait_event (&f, "RESUME", &from);
  seen = wait_event (&f, "BLOCK_WRITE_THRESHOLD", &from);
  threshold = QMP_WRITE_THRESHOLD_EVENT (seen->event);
  g_assert_cmpstr (qmp_write_threshold_event_get_node_name (threshold), ==, "data-file");
  g_assert_cmpuint (qmp_write_threshold_event_get_write_threshold (threshold), ==, 1 * MiB);
  g_test_message ("QEMU's threshold timestamp to the block-write-threshold signal: %.3f ms",
                  (g_get_real_time () - (g_get_monotonic_time () - seen->received) -
                   qmp_event_get_timestamp_usec (seen->event)) / 1000.0);

  seen = wait_event (&f, "BLOCK_IO_ERROR", &from);
  io_error = QMP_BLOCK_IO_ERROR_EVENT (seen->event);
  g_test_message ("cont to block-io-error: %.3f s", (seen->received - cont_time) / 1e6);
  g_assert_true (qmp_block_io_error_event_get_nospace (io_error));
  g_assert_cmpint (qmp_block_io_error_event_get_action (io_error), ==, QMP_BLOCK_ERROR_ACTION_STOP);
  g_assert_cmpint (qmp_block_io_error_event_get_operation (io_error), ==, QMP_IO_OPERATION_WRITE);
  g_assert_cmpstr (qmp_block_io_error_event_get_node_name (io_error), ==, "data-fmt");
  g_assert_cmpstr (qmp_block_io_error_event_get_device (io_error), ==, "");
  g_assert_cmpstr (qmp_block_io_error_event_get_reason (io_error), ==, "No space left on device");
  wait_event (&f, "STOP", &from);
  g_assert_cmpuint (f.n_typed_io_errors, >=, 1);

  status = qmp_client_query_status_sync (f.client, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (qmp_status_info_get_status (status), ==, QMP_RUN_STATE_IO_ERROR);
  disk = data_disk (&f);
  g_assert_cmpint (qmp_block_info_get_io_status (disk), ==, QMP_IO_STATUS_NOSPACE);
  g_assert_cmpstr (qmp_block_info_get_device (disk), ==, "");
  /* The pause came exactly at the limit of the storage. */
  g_assert_cmpuint (node_highest_offset (f.client, "data-file"), <=, limit);

  /* Extend, re-arm, resume, until the guest is done. */
  for (;;)
    {
      g_autofree char *log = NULL;

      pauses++;
      g_assert_cmpuint (pauses, <, 40);
      limit += 4 * MiB;
      reopen_limit (f.client, limit);
      g_assert_true (qmp_client_set_write_threshold_sync (f.client, "data-file", limit - 1 * MiB,
                                                          NULL, &error));
      g_assert_true (qmp_client_cont_sync (f.client, NULL, &error));
      g_assert_no_error (error);
      wait_event (&f, "RESUME", &from);

      /* Either the guest finishes, or it pauses again. */
      for (;;)
        {
          g_autoptr(QmpStatusInfo) now = NULL;

          g_clear_pointer (&log, g_free);
          log = serial_log (&f);
          if (strstr (log, "DONE") != NULL)
            break;
          now = qmp_client_query_status_sync (f.client, NULL, &error);
          g_assert_no_error (error);
          if (qmp_status_info_get_status (now) == QMP_RUN_STATE_IO_ERROR)
            break;
          g_usleep (20 * 1000);
          while (g_main_context_iteration (NULL, FALSE))
            ;
        }
      if (strstr (log, "DONE") != NULL)
        break;
    }
  g_test_message ("the guest filled %u MiB after %u ENOSPC pauses", virtual_mib, f.n_typed_io_errors);
  g_assert_cmpuint (f.n_typed_io_errors, >=, 2);

  check_every_byte (&f, virtual_mib);
  fixture_stop (&f);
}

/* 4. The -drive front end names the device; werror=report reports the
 * error to the guest: no nospace member, no io-status, no pause. */
static void
test_drive_report (void)
{
  const char *args[] = {
    GUEST,
    DRIVE_STACK ("werror=report,rerror=report"),
    NULL
  };
  Fixture f = { 0, };
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpStatusInfo) status = NULL;
  g_autoptr(QmpBlockInfo) disk = NULL;
  QmpBlockIoErrorEvent *io_error;
  guint from = 0;

  if (!fixture_start (&f, args, TRUE, 16))
    return;
  g_assert_true (qmp_client_cont_sync (f.client, NULL, &error));
  g_assert_no_error (error);

  io_error = QMP_BLOCK_IO_ERROR_EVENT (wait_event (&f, "BLOCK_IO_ERROR", &from)->event);
  g_assert_cmpstr (qmp_block_io_error_event_get_device (io_error), ==, "drive-data");
  g_assert_cmpint (qmp_block_io_error_event_get_action (io_error), ==, QMP_BLOCK_ERROR_ACTION_REPORT);
  g_assert_false (qmp_block_io_error_event_get_nospace (io_error));
  g_assert_false (json_object_has_member (qmp_event_get_data (QMP_EVENT (io_error)), "nospace"));
  g_assert_cmpstr (qmp_block_io_error_event_get_reason (io_error), ==, "No space left on device");

  /* The guest retries: more errors, the VM keeps running. */
  wait_event (&f, "BLOCK_IO_ERROR", &from);
  status = qmp_client_query_status_sync (f.client, NULL, &error);
  g_assert_no_error (error);
  g_assert_true (qmp_status_info_get_running (status));
  disk = data_disk (&f);
  g_assert_cmpstr (qmp_block_info_get_device (disk), ==, "drive-data");
  g_assert_cmpint (qmp_block_info_get_io_status (disk), ==, QMP_IO_STATUS_NONE);
  fixture_stop (&f);
}

/* 4'. -drive with werror=enospc: the device has a name in the pause. */
static void
test_drive_enospc (void)
{
  const char *args[] = {
    GUEST,
    DRIVE_STACK ("werror=enospc,rerror=stop"),
    NULL
  };
  Fixture f = { 0, };
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpBlockInfo) disk = NULL;
  QmpBlockIoErrorEvent *io_error;
  guint from = 0;

  if (!fixture_start (&f, args, TRUE, 16))
    return;
  g_assert_true (qmp_client_cont_sync (f.client, NULL, &error));
  io_error = QMP_BLOCK_IO_ERROR_EVENT (wait_event (&f, "BLOCK_IO_ERROR", &from)->event);
  g_assert_cmpstr (qmp_block_io_error_event_get_device (io_error), ==, "drive-data");
  g_assert_true (qmp_block_io_error_event_get_nospace (io_error));
  wait_event (&f, "STOP", &from);
  disk = data_disk (&f);
  g_assert_cmpint (qmp_block_info_get_io_status (disk), ==, QMP_IO_STATUS_NOSPACE);
  fixture_stop (&f);
}

static guint
count_derived (Fixture    *f,
               const char *name,
               guint       from)
{
  guint n = 0;

  for (guint i = from; i < f->seen->len; i++)
    {
      QmpEvent *event = g_array_index (f->seen, Seen, i).event;

      if (g_str_equal (qmp_event_get_name (event), name) && qmp_event_get_derived (event))
        n++;
    }
  return n;
}

static gboolean
on_timeout_flag (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the main context for @ms, blocking in it: what QEMU sends is
 * handled as soon as it arrives, as in an agent. */
static void
run_for (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, on_timeout_flag, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

static void
spin (guint ms)
{
  gint64 deadline = g_get_monotonic_time () + ms * 1000;

  while (g_get_monotonic_time () < deadline)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (10 * 1000);
    }
}

/* Waits, through a connection of its own, until QEMU says the VM is
 * paused on an I/O error: what happens while the test's client is away. */
static void
wait_paused_on_error (Fixture *f)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_LIMIT_MS * 1000;

  for (;;)
    {
      g_autoptr(QmpClient) probe = qmp_client_new (qmp_test_qemu_get_address (f->qemu));
      g_autoptr(GError) error = NULL;
      QmpStopReason *reason;

      g_assert_true (qmp_client_connect_sync (probe, NULL, &error));
      g_assert_no_error (error);
      reason = qmp_client_get_stop_reason (probe);
      if (qmp_stop_reason_get_run_state (reason) == QMP_RUN_STATE_IO_ERROR)
        return;
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      qmp_client_close_sync (probe, NULL, NULL);
      g_usleep (50 * 1000);
    }
}

/* Resync 1 and 2: the guest crosses the threshold and runs out of space
 * while no client is connected. The same client reconnecting, then a new
 * client told which threshold was armed, both learn what happened. */
static void
test_missed_while_away (void)
{
  const char *args[] = {
    GUEST, DATA_STACK ("2097152"),
    "-device", "virtio-blk-pci,drive=data-fmt,id=datadisk,werror=enospc,rerror=stop",
    NULL
  };
  Fixture f = { 0, };
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpClient) restarted = NULL;
  QmpStopReason *reason;
  guint from;
  gint64 start;

  if (!fixture_start (&f, args, TRUE, 16))
    return;
  g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f.client)), ==,
                   QMP_STOP_KIND_PRELAUNCH);
  g_assert_true (qmp_client_set_write_threshold_sync (f.client, "data-file", 1 * MiB, NULL, &error));
  g_assert_true (qmp_client_cont_sync (f.client, NULL, &error));
  g_assert_true (qmp_client_close_sync (f.client, NULL, &error));
  wait_paused_on_error (&f);
  from = f.seen->len;
  start = g_get_monotonic_time ();
  g_assert_true (qmp_client_connect_sync (f.client, NULL, &error));
  g_assert_no_error (error);
  g_test_message ("connect and resync of a paused VM with 2 disks: %.1f ms",
                  (g_get_monotonic_time () - start) / 1e3);
  reason = qmp_client_get_stop_reason (f.client);
  g_assert_cmpint (qmp_stop_reason_get_kind (reason), ==, QMP_STOP_KIND_NOSPACE);
  g_assert_true (qmp_stop_reason_get_derived (reason));
  g_assert_cmpstr (qmp_stop_reason_get_node_names (reason)[0], ==, "data-fmt");
  /* Delivered before the connect returned. */
  g_assert_cmpuint (count_derived (&f, "BLOCK_IO_ERROR", from), ==, 1);
  g_assert_cmpuint (count_derived (&f, "BLOCK_WRITE_THRESHOLD", from), ==, 1);

  /* An agent restarted with no memory declares the threshold it persisted. */
  g_assert_true (qmp_client_close_sync (f.client, NULL, &error));
  restarted = qmp_client_new (qmp_test_qemu_get_address (f.qemu));
  g_signal_connect (restarted, "event", G_CALLBACK (on_event), &f);
  qmp_client_declare_write_threshold (restarted, "data-file", 1 * MiB);
  from = f.seen->len;
  g_assert_true (qmp_client_connect_sync (restarted, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (restarted)), ==,
                   QMP_STOP_KIND_NOSPACE);
  g_assert_cmpuint (count_derived (&f, "BLOCK_IO_ERROR", from), ==, 1);
  g_assert_cmpuint (count_derived (&f, "BLOCK_WRITE_THRESHOLD", from), ==, 1);

  g_clear_object (&restarted);
  fixture_stop (&f);
}

/* Resync 3: a user paused the VM while the agent was away. */
static void
test_paused_by_user_while_away (void)
{
  const char *args[] = { "-machine", "none", "-S", NULL };
  Fixture f = { 0, };
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpClient) user = NULL;
  guint from;

  if (!fixture_start (&f, args, FALSE, 16))
    return;
  g_assert_true (qmp_client_cont_sync (f.client, NULL, &error));
  g_assert_true (qmp_client_close_sync (f.client, NULL, &error));

  user = qmp_client_new (qmp_test_qemu_get_address (f.qemu));
  g_assert_true (qmp_client_connect_sync (user, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (user)), ==, QMP_STOP_KIND_RUNNING);
  g_assert_true (qmp_client_stop_sync (user, NULL, &error));
  g_assert_true (qmp_client_close_sync (user, NULL, &error));

  from = f.seen->len;
  g_assert_true (qmp_client_connect_sync (f.client, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f.client)), ==,
                   QMP_STOP_KIND_PAUSED_BY_USER);
  spin (100);
  /* Nothing derived, nothing else (a lower bound of time: more could
   * only show up later, never less). */
  g_assert_cmpuint (count_derived (&f, "BLOCK_IO_ERROR", from), ==, 0);
  g_assert_cmpuint (f.seen->len, ==, from);
  fixture_stop (&f);
}

static void
on_reconnected (QmpClient *client,
                gboolean   new_instance,
                gpointer   user_data)
{
  g_ptr_array_add (user_data, g_strdup (new_instance ? "new" : "same"));
}

static void
on_disconnected (QmpClient *client,
                 GError    *error,
                 gpointer   user_data)
{
  g_ptr_array_add (user_data, g_strdup ("disconnected"));
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
wait_log (GPtrArray *log,
          guint      length)
{
  gint64 deadline = g_get_monotonic_time () + WAIT_LIMIT_MS * 1000;

  while (log->len < length)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
}

/* Resync 4: QEMU is killed (SIGKILL) with commands in flight and started
 * again on the same socket. With auto-reconnect the client comes back by
 * itself, knows it is a new QEMU, and reports the new one's state. */
static void
test_qemu_restarted (void)
{
  const char *args[] = { "-machine", "none", DATA_STACK ("33554432"), NULL };
  Fixture f = { 0, };
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) log = g_ptr_array_new_with_free_func (g_free);
  guint n_closed = 0, from;
  gint64 restarted;

  if (!fixture_start (&f, args, FALSE, 64))
    return;
  g_object_set (f.client, "auto-reconnect", TRUE, "reconnect-min-delay", 50, "reconnect-max-delay", 400, NULL);
  g_signal_connect (f.client, "reconnected", G_CALLBACK (on_reconnected), log);
  g_signal_connect (f.client, "disconnected", G_CALLBACK (on_disconnected), log);

  /* The old QEMU: paused by us, a threshold armed. */
  g_assert_true (qmp_client_set_write_threshold_sync (f.client, "data-file", 1 * MiB, NULL, &error));
  g_assert_true (qmp_client_stop_sync (f.client, NULL, &error));
  g_assert_no_error (error);
  spin (50);
  g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f.client)), ==,
                   QMP_STOP_KIND_PAUSED_BY_USER);

  /* Frozen, it cannot answer what is sent now; then killed. */
  qmp_test_qemu_send_signal (f.qemu, SIGSTOP);
  for (guint i = 0; i < 3; i++)
    qmp_client_execute_async (f.client, "query-status", NULL, NULL, count_closed, &n_closed);
  spin (100);
  g_assert_cmpuint (qmp_client_get_n_pending (f.client), ==, 3);
  qmp_test_qemu_kill (f.qemu);
  wait_log (log, 1);
  g_assert_cmpstr (log->pdata[0], ==, "disconnected");
  g_assert_cmpuint (n_closed, ==, 3);
  g_assert_cmpuint (qmp_client_get_n_pending (f.client), ==, 0);

  /* The new QEMU runs: nobody paused it. */
  from = f.seen->len;
  qmp_test_qemu_restart (f.qemu);
  restarted = g_get_monotonic_time ();
  wait_log (log, 2);
  g_test_message ("from the new QEMU's socket accepting to ::reconnected: %.1f ms",
                  (g_get_monotonic_time () - restarted) / 1e3);
  g_assert_cmpstr (log->pdata[1], ==, "new");
  g_assert_cmpint (qmp_client_get_state (f.client), ==, QMP_CLIENT_STATE_READY);
  g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f.client)), ==,
                   QMP_STOP_KIND_RUNNING);
  /* Its threshold did not fire, it is gone: nothing derived. */
  g_assert_cmpuint (node_threshold (f.client, "data-file"), ==, 0);
  g_assert_cmpuint (count_derived (&f, "BLOCK_WRITE_THRESHOLD", from), ==, 0);
  g_assert_cmpuint (n_closed, ==, 3);

  g_assert_true (qmp_client_close_sync (f.client, NULL, &error));
  spin (600);
  g_assert_cmpuint (log->len, ==, 3);
  g_assert_cmpint (qmp_client_get_state (f.client), ==, QMP_CLIENT_STATE_CLOSED);
  fixture_stop (&f);
}

/* The data stack with a second way down: data-eio, a blkdebug node on the
 * same file where every write fails with EIO. */
#define DATA_STACK_EIO(limit) \
  DATA_STACK (limit), \
  "-blockdev", "driver=blkdebug,node-name=data-eio,image=data-file," \
               "inject-error.0.event=pwritev,inject-error.0.errno=5,inject-error.0.once=off"

/* Resync 5: after reconnecting to a VM paused on a full disk, extend and
 * resume; the next pause is an EIO, and the stop reason comes from the live
 * event, although io-status (-blockdev) still says nospace. */
static void
test_extend_then_eio (void)
{
  const char *args[] = {
    /* werror=enospc would only report an EIO to the guest. */
    GUEST, DATA_STACK_EIO ("2097152"),
    "-device", "virtio-blk-pci,drive=data-fmt,id=datadisk,werror=stop,rerror=stop",
    NULL
  };
  Fixture f = { 0, };
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpBlockInfo) disk = NULL;
  QmpStopReason *reason;
  QmpBlockIoErrorEvent *io_error;
  gint64 resumed;
  guint from, stopped;

  if (!fixture_start (&f, args, TRUE, 16))
    return;
  g_assert_true (qmp_client_cont_sync (f.client, NULL, &error));
  g_assert_true (qmp_client_close_sync (f.client, NULL, &error));
  wait_paused_on_error (&f);

  /* Reconnected: paused for lack of space. */
  g_assert_true (qmp_client_connect_sync (f.client, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f.client)), ==,
                   QMP_STOP_KIND_NOSPACE);

  /* Extended and resumed: running. */
  from = f.seen->len;
  reopen_limit (f.client, 10 * MiB);
  g_assert_true (qmp_client_cont_sync (f.client, NULL, &error));
  g_assert_no_error (error);
  resumed = qmp_event_get_timestamp_usec (wait_event (&f, "RESUME", &from)->event);
  reason = qmp_client_get_stop_reason (f.client);
  g_assert_cmpint (qmp_stop_reason_get_kind (reason), ==, QMP_STOP_KIND_RUNNING);
  g_assert_false (qmp_stop_reason_get_derived (reason));

  /* The storage fails under the guest's next writes. QEMU 9.2 and later
   * hold this error back (it comes within a second of the last), so the
   * STOP may come first, and the client's question then gets the stale
   * nospace of io-status; the error, when it comes, corrects it. They may
   * still send an error of the pause that ended, older than the RESUME. */
  reopen_limit_on (f.client, "data-eio", 10 * MiB);
  stopped = from;
  do
    io_error = QMP_BLOCK_IO_ERROR_EVENT (wait_event (&f, "BLOCK_IO_ERROR", &from)->event);
  while (qmp_event_get_derived (QMP_EVENT (io_error)) ||
         qmp_event_get_timestamp_usec (QMP_EVENT (io_error)) < resumed);
  g_assert_false (qmp_block_io_error_event_get_nospace (io_error));
  g_assert_cmpstr (qmp_block_io_error_event_get_reason (io_error), ==, "Input/output error");
  wait_event (&f, "STOP", &stopped);
  reason = qmp_client_get_stop_reason (f.client);
  g_assert_cmpint (qmp_stop_reason_get_kind (reason), ==, QMP_STOP_KIND_IO_ERROR);
  g_assert_cmpstr (qmp_stop_reason_get_node_names (reason)[0], ==, "data-fmt");
  g_assert_false (qmp_stop_reason_get_derived (reason));
  g_assert_cmpint (qmp_stop_reason_get_since_usec (reason), >, 0);

  /* io-status still says nospace (QEMU-FACTS §4): a client that saw the
   * EIO keeps it across a reconnection, and its derived event says so. */
  disk = data_disk (&f);
  g_test_message ("io-status of the data disk during the EIO pause: %s",
                  qmp_block_info_get_io_status_string (disk));
  g_assert_true (qmp_client_close_sync (f.client, NULL, &error));
  from = f.seen->len;
  g_assert_true (qmp_client_connect_sync (f.client, NULL, &error));
  g_assert_no_error (error);
  reason = qmp_client_get_stop_reason (f.client);
  g_assert_cmpint (qmp_stop_reason_get_kind (reason), ==, QMP_STOP_KIND_IO_ERROR);
  /* The same pause, still the reason seen live, with its start. */
  g_assert_false (qmp_stop_reason_get_derived (reason));
  g_assert_cmpint (qmp_stop_reason_get_since_usec (reason), >, 0);
  g_assert_cmpstr (qmp_stop_reason_get_node_names (reason)[0], ==, "data-fmt");
  io_error = QMP_BLOCK_IO_ERROR_EVENT (wait_event (&f, "BLOCK_IO_ERROR", &from)->event);
  g_assert_true (qmp_event_get_derived (QMP_EVENT (io_error)));
  g_assert_false (qmp_block_io_error_event_get_nospace (io_error));
  fixture_stop (&f);
}

typedef struct {
  guint chunk_mib;
  guint delay_ms;               /* 0: extend from the handler */
  guint free_percent;
} FillCase;

typedef struct {
  Fixture *f;
  QmpThinMonitor *monitor;
  guint64 container;            /* the file's size: the most there is */
  guint delay_ms;
  guint64 delayed_size;         /* an extension waiting for its timer */
  guint n_needs;
  guint n_needs_nospace;
  /* The pauses: when each STOP came, whether an error explained it at
   * once, and how long the client took to tell NOSPACE otherwise. */
  gint64 last_stop_usec;        /* QEMU's timestamp of the last STOP */
  gint64 stop_received;         /* monotonic, of a STOP not explained yet */
  guint n_stops;
  guint n_close_pauses;         /* less than a second after the previous one */
  guint n_unexplained;
  gint64 unexplained_delay_max; /* µs from such a STOP to NOSPACE */
  gint64 unexplained_delay_sum;
} Filler;

static void
on_fill_stop (QmpClient *client,
              QmpEvent  *event,
              gpointer   user_data)
{
  Filler *filler = user_data;
  gint64 at = qmp_event_get_timestamp_usec (event);
  QmpStopKind kind = qmp_stop_reason_get_kind (qmp_client_get_stop_reason (client));

  filler->n_stops++;
  if (filler->last_stop_usec > 0 && at - filler->last_stop_usec < G_USEC_PER_SEC)
    filler->n_close_pauses++;
  filler->last_stop_usec = at;
  if (kind == QMP_STOP_KIND_UNKNOWN)
    {
      filler->n_unexplained++;
      filler->stop_received = g_get_monotonic_time ();
    }
}

static void
on_fill_reason (QmpClient     *client,
                QmpStopReason *reason,
                gpointer       user_data)
{
  Filler *filler = user_data;
  gint64 delay;

  if (filler->stop_received == 0 || qmp_stop_reason_get_kind (reason) == QMP_STOP_KIND_UNKNOWN)
    return;
  g_assert_cmpint (qmp_stop_reason_get_kind (reason), ==, QMP_STOP_KIND_NOSPACE);
  delay = g_get_monotonic_time () - filler->stop_received;
  filler->stop_received = 0;
  filler->unexplained_delay_sum += delay;
  filler->unexplained_delay_max = MAX (filler->unexplained_delay_max, delay);
}

/* The consumer's extension: a blockdev-reopen of the raw node with the
 * wanted size. */
static void
fill_extend (Filler  *filler,
             guint64  size)
{
  reopen_limit (filler->f->client, size);
  qmp_thin_monitor_extended (filler->monitor, "data-file", size);
}

static gboolean
on_fill_delay (gpointer user_data)
{
  Filler *filler = user_data;
  guint64 size = filler->delayed_size;

  filler->delayed_size = 0;
  fill_extend (filler, size);
  return G_SOURCE_REMOVE;
}

static void
on_fill_extend_needed (QmpThinMonitor  *monitor,
                       QmpThinDisk     *disk,
                       guint64          wanted_size,
                       QmpExtendReason  reason,
                       gpointer         user_data)
{
  Filler *filler = user_data;
  guint64 size = MIN (wanted_size, filler->container);

  g_assert_cmpuint (filler->delayed_size, ==, 0);
  filler->n_needs++;
  filler->n_needs_nospace += reason == QMP_EXTEND_REASON_NOSPACE;
  if (filler->delay_ms == 0)
    {
      fill_extend (filler, size);
      return;
    }
  /* A slow storage back end, answering later from its own callback. */
  filler->delayed_size = size;
  g_timeout_add (filler->delay_ms, on_fill_delay, filler);
}

/* The guest fills a 64 MiB thin disk that starts with 2 MiB of storage,
 * through QmpThinMonitor alone; every byte must land. */
static void
test_monitor_fill (gconstpointer data)
{
  const FillCase *fill = data;
  const guint chunk_mib = fill->chunk_mib;
  const guint virtual_mib = 64;
  const char *args[] = {
    GUEST, DATA_STACK ("2097152"),
    "-device", "virtio-blk-pci,drive=data-fmt,id=datadisk,werror=enospc,rerror=stop",
    NULL
  };
  Fixture f = { 0, };
  Filler filler = { &f, NULL, 0, fill->delay_ms, };
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpThinMonitor) monitor = NULL;
  QmpThinDisk *disk;
  gint64 start, deadline;

  if (!fixture_start (&f, args, TRUE, virtual_mib))
    return;
  filler.container = (guint64) (virtual_mib + 16) * MiB;

  monitor = qmp_thin_monitor_new (f.client);
  filler.monitor = monitor;
  g_signal_connect (monitor, "extend-needed", G_CALLBACK (on_fill_extend_needed), &filler);
  g_signal_connect (f.client, "stop", G_CALLBACK (on_fill_stop), &filler);
  g_signal_connect_after (f.client, "stop-reason-changed", G_CALLBACK (on_fill_reason), &filler);
  disk = qmp_thin_monitor_add_disk (monitor, "data-file", 2 * MiB, (guint64) chunk_mib * MiB,
                                    fill->free_percent);
  qmp_thin_disk_set_maximum_size (disk, filler.container);

  start = g_get_monotonic_time ();
  g_assert_true (qmp_client_cont_sync (f.client, NULL, &error));
  g_assert_no_error (error);
  deadline = start + 120 * G_USEC_PER_SEC;
  for (;;)
    {
      g_autofree char *log = serial_log (&f);

      if (strstr (log, "DONE") != NULL)
        break;
      if (g_get_monotonic_time () > deadline)
        g_error ("the guest did not finish in 120 s: %u extensions, %u pauses, disk %s; serial: %s",
                 qmp_thin_disk_get_n_extensions (disk), qmp_thin_monitor_get_n_nospace_pauses (monitor),
                 g_enum_get_value (g_type_class_peek (QMP_TYPE_THIN_DISK_STATE),
                                   qmp_thin_disk_get_state (disk))->value_nick, log);
      run_for (20);
    }
  g_test_message ("QEMU %s, chunk %u MiB, free %u %%, extending after %u ms: the guest filled %u MiB in %.2f s "
                  "with %u extensions, %u ENOSPC pauses (%.1f ms paused in all), %u resumes by the monitor; "
                  "%u needs, %u of them for ENOSPC",
                  qmp_client_get_qemu_version (f.client), chunk_mib, fill->free_percent, fill->delay_ms,
                  virtual_mib, (g_get_monotonic_time () - start) / 1e6,
                  qmp_thin_disk_get_n_extensions (disk), qmp_thin_monitor_get_n_nospace_pauses (monitor),
                  qmp_thin_monitor_get_nospace_paused_usec (monitor) / 1e3,
                  qmp_thin_monitor_get_n_resumes (monitor), filler.n_needs, filler.n_needs_nospace);
  g_test_message ("%u STOPs, %u less than a second after the previous one; %u came with no error to "
                  "explain them, and the client told NOSPACE %.2f ms later on average (%.2f ms at most)",
                  filler.n_stops, filler.n_close_pauses, filler.n_unexplained,
                  filler.n_unexplained ? filler.unexplained_delay_sum / 1e3 / filler.n_unexplained : 0.0,
                  filler.unexplained_delay_max / 1e3);
  /* No VM left paused: every pause for lack of space was resumed. */
  g_assert_cmpuint (filler.n_stops, ==, qmp_thin_monitor_get_n_nospace_pauses (monitor));
  g_assert_cmpuint (filler.stop_received, ==, 0);
  /* Every pause was resumed by the monitor, and nothing else asked. */
  g_assert_cmpuint (qmp_thin_monitor_get_n_resumes (monitor), ==, qmp_thin_monitor_get_n_nospace_pauses (monitor));
  g_assert_cmpuint (filler.n_needs, ==, qmp_thin_disk_get_n_extensions (disk));
  g_assert_cmpuint (qmp_thin_disk_get_n_extensions (disk), >=, (virtual_mib - 2) / chunk_mib);

  g_clear_object (&monitor);
  check_every_byte (&f, virtual_mib);
  fixture_stop (&f);
}

/* What a slow consumer of the monitor was asked, for the tests below. */
typedef struct {
  guint n_needs;
  guint64 wanted;
  QmpExtendReason reason;
  guint n_needs_at_resume;      /* n_needs when the monitor last resumed the VM */
} Asked;

static void
on_asked (QmpThinMonitor  *monitor,
          QmpThinDisk     *disk,
          guint64          wanted_size,
          QmpExtendReason  reason,
          gpointer         user_data)
{
  Asked *asked = user_data;

  asked->n_needs++;
  asked->wanted = wanted_size;
  asked->reason = reason;
}

static void
count_needs_at_resume (Asked *asked)
{
  asked->n_needs_at_resume = asked->n_needs;
}

static QmpRunState
run_state (QmpClient *client)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpStatusInfo) status = qmp_client_query_status_sync (client, NULL, &error);

  g_assert_no_error (error);
  return qmp_status_info_get_status (status);
}

#define PAUSE_ON_FULL_DISK \
  GUEST, DATA_STACK ("2097152"), \
  "-device", "virtio-blk-pci,drive=data-fmt,id=datadisk,werror=enospc,rerror=stop"

/* Starts the guest under a monitor of one 2 MiB disk and waits until it
 * paused for lack of space and the monitor asked for more. */
static QmpThinMonitor *
start_and_fill (Fixture *f,
                Asked   *asked)
{
  QmpThinMonitor *monitor = qmp_thin_monitor_new (f->client);
  g_autoptr(GError) error = NULL;
  gint64 deadline = g_get_monotonic_time () + WAIT_LIMIT_MS * 1000;

  g_signal_connect (monitor, "extend-needed", G_CALLBACK (on_asked), asked);
  qmp_thin_monitor_add_disk (monitor, "data-file", 2 * MiB, 2 * MiB, QMP_THIN_DEFAULT_FREE_PERCENT);
  g_assert_true (qmp_client_cont_sync (f->client, NULL, &error));
  g_assert_no_error (error);
  while (qmp_thin_monitor_get_n_nospace_pauses (monitor) == 0 || asked->n_needs == 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      run_for (10);
    }
  return monitor;
}

/* A user pauses a VM that is already paused for lack of space (QEMU sends
 * no STOP then): the pause is the user's, and the extension that follows
 * does not resume it. The user's cont does. */
static void
test_user_stop_during_nospace (void)
{
  const char *args[] = { PAUSE_ON_FULL_DISK, NULL };
  Fixture f = { 0, };
  Asked asked = { 0, };
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpThinMonitor) monitor = NULL;
  QmpThinDisk *disk;

  if (!fixture_start (&f, args, TRUE, 16))
    return;
  monitor = start_and_fill (&f, &asked);
  disk = qmp_thin_monitor_get_disk (monitor, "data-file");
  g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f.client)), ==, QMP_STOP_KIND_NOSPACE);

  g_assert_true (qmp_client_stop_sync (f.client, NULL, &error));
  g_assert_no_error (error);
  run_for (50);
  g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f.client)), ==,
                   QMP_STOP_KIND_PAUSED_BY_USER);
  g_assert_cmpint (run_state (f.client), ==, QMP_RUN_STATE_IO_ERROR);

  reopen_limit (f.client, asked.wanted);
  qmp_thin_monitor_extended (monitor, "data-file", asked.wanted);
  while (qmp_thin_disk_get_state (disk) != QMP_THIN_DISK_STATE_ARMED)
    run_for (10);
  run_for (500);
  g_assert_cmpuint (qmp_thin_monitor_get_n_resumes (monitor), ==, 0);
  g_assert_cmpint (run_state (f.client), ==, QMP_RUN_STATE_IO_ERROR);

  g_assert_true (qmp_client_cont_sync (f.client, NULL, &error));
  g_assert_no_error (error);
  while (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f.client)) == QMP_STOP_KIND_PAUSED_BY_USER)
    run_for (10);
  g_clear_object (&monitor);
  fixture_stop (&f);
}

/* The VM pauses for lack of space and the monitor asks; the connection
 * drops; the consumer grows the storage and reports it while the client
 * is away. Back, the monitor asks for nothing more and resumes the VM. */
static void
test_extended_while_away (void)
{
  const char *args[] = { PAUSE_ON_FULL_DISK, NULL };
  Fixture f = { 0, };
  Asked asked = { 0, };
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpThinMonitor) monitor = NULL;
  g_autoptr(QmpClient) consumer = NULL;
  gint64 deadline;
  guint64 first_wanted;

  if (!fixture_start (&f, args, TRUE, 16))
    return;
  monitor = start_and_fill (&f, &asked);
  g_assert_cmpuint (asked.n_needs, ==, 1);
  first_wanted = asked.wanted;
  g_signal_connect_swapped (monitor, "notify::n-resumes", G_CALLBACK (count_needs_at_resume), &asked);

  /* Away; the consumer's own connection grows the storage. */
  g_assert_true (qmp_client_close_sync (f.client, NULL, &error));
  consumer = qmp_client_new (qmp_test_qemu_get_address (f.qemu));
  qmp_client_connect_sync (consumer, NULL, &error);
  g_assert_no_error (error);
  reopen_limit (consumer, asked.wanted);
  g_assert_true (qmp_client_close_sync (consumer, NULL, &error));
  qmp_thin_monitor_extended (monitor, "data-file", asked.wanted);

  g_assert_true (qmp_client_connect_sync (f.client, NULL, &error));
  g_assert_no_error (error);
  deadline = g_get_monotonic_time () + WAIT_LIMIT_MS * 1000;
  while (qmp_thin_monitor_get_n_resumes (monitor) == 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      run_for (10);
    }
  /* Nothing asked again before the resume; the guest, running again, may
   * cross the next threshold at once: that need is for more. */
  g_assert_cmpuint (asked.n_needs_at_resume, ==, 1);
  g_assert_true (asked.n_needs == 1 || asked.wanted > first_wanted);
  g_clear_object (&monitor);
  fixture_stop (&f);
}

/* The usage the reference shows first: a monitor set up, then
 * qmp_client_connect_sync(). A disk already past its threshold is asked
 * for at once. */
static void
test_connect_sync_exceeded (void)
{
  const char *args[] = { "-machine", "none", DATA_STACK ("33554432"), NULL };
  Fixture f = { 0, };
  Asked asked = { 0, };
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpThinMonitor) monitor = NULL;
  g_autoptr(QmpClient) agent = NULL;
  QmpThinDisk *disk;
  gint64 deadline;

  if (!fixture_start (&f, args, FALSE, 64))
    return;
  hmp (f.client, "qemu-io data-fmt \"write -P 0xab 0 3M\"");
  g_assert_cmpuint (node_highest_offset (f.client, "data-file"), >, 3 * MiB);
  g_assert_true (qmp_client_close_sync (f.client, NULL, &error));

  agent = qmp_client_new (qmp_test_qemu_get_address (f.qemu));
  monitor = qmp_thin_monitor_new (agent);
  g_signal_connect (monitor, "extend-needed", G_CALLBACK (on_asked), &asked);
  /* 4 MiB of storage, 1 MiB chunks: threshold at 3.2 MiB, written past. */
  disk = qmp_thin_monitor_add_disk (monitor, "data-file", 4 * MiB, 1 * MiB, QMP_THIN_DEFAULT_FREE_PERCENT);
  g_assert_true (qmp_client_connect_sync (agent, NULL, &error));
  g_assert_no_error (error);
  deadline = g_get_monotonic_time () + WAIT_LIMIT_MS * 1000;
  while (asked.n_needs == 0)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      run_for (10);
    }
  g_assert_cmpint (qmp_thin_disk_get_state (disk), ==, QMP_THIN_DISK_STATE_EXCEEDED);
  g_assert_cmpint (asked.reason, ==, QMP_EXTEND_REASON_THRESHOLD);
  g_clear_object (&monitor);
  g_clear_object (&agent);
  fixture_stop (&f);
}

static void
count_io_error (QmpClient            *client,
                QmpBlockIoErrorEvent *event,
                gpointer              user_data)
{
  GArray *stamps = user_data;
  gint64 at = qmp_event_get_timestamp_usec (QMP_EVENT (event));

  g_array_append_val (stamps, at);
}

/* A storm of EIO errors reported to a guest that retries forever: QEMU 7.2
 * sends every one of them (thousands a second), 9.2 and later one a
 * second. The client delivers what QEMU sends, the VM keeps running.
 * Counted in QEMU's time, so that a slow client counts the same. */
static void
test_eio_storm (void)
{
  const char *args[] = {
    GUEST, DATA_STACK_EIO ("67108864"),
    "-device", "virtio-blk-pci,drive=data-fmt,id=datadisk,werror=report,rerror=report",
    NULL
  };
  Fixture f = { 0, };
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) stamps = g_array_new (FALSE, FALSE, sizeof (gint64));
  gint64 first, deadline;
  guint n = 0;

  if (!fixture_start (&f, args, TRUE, 16))
    return;
  reopen_limit_on (f.client, "data-eio", 64 * MiB);
  g_signal_connect (f.client, "block-io-error", G_CALLBACK (count_io_error), stamps);
  g_assert_true (qmp_client_cont_sync (f.client, NULL, &error));
  g_assert_no_error (error);

  /* Three seconds of QEMU's time from the first error. */
  deadline = g_get_monotonic_time () + WAIT_LIMIT_MS * 1000;
  while (stamps->len == 0 || g_array_index (stamps, gint64, stamps->len - 1) <
                             g_array_index (stamps, gint64, 0) + 3 * G_USEC_PER_SEC)
    {
      g_assert_cmpint (g_get_monotonic_time (), <, deadline);
      g_main_context_iteration (NULL, TRUE);
    }
  first = g_array_index (stamps, gint64, 0);
  for (guint i = 0; i < stamps->len; i++)
    n += g_array_index (stamps, gint64, i) < first + 3 * G_USEC_PER_SEC;
  g_test_message ("QEMU %s sent %u BLOCK_IO_ERROR events in the first 3 s of an EIO storm",
                  qmp_client_get_qemu_version (f.client), n);
  /* The VM ran through it: no STOP came among the errors the client
   * delivered (events and replies come in QEMU's order). */
  g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f.client)), ==, QMP_STOP_KIND_RUNNING);
  /* A client slower than the storm (valgrind, a busy machine) gets any
   * reply only after the events QEMU queued before it, and with 7.2 the
   * queue grows as long as the storm lasts: the storm is ended first, by
   * pausing the VM, and the reply waits for what was queued. */
  qmp_client_set_command_timeout (f.client, QMP_TIMEOUT_NONE);
  g_assert_true (qmp_client_stop_sync (f.client, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpint (run_state (f.client), ==, QMP_RUN_STATE_PAUSED);
  if (qmp_client_get_qemu_major (f.client) * 100 + qmp_client_get_qemu_minor (f.client) >= 902)
    g_assert_cmpuint (n, <=, 4);       /* one a second, the first at once */
  else
    g_assert_cmpuint (n, >=, 100);
  fixture_stop (&f);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/qmp/thin/threshold", test_threshold);
  g_test_add_func ("/qmp/thin/enospc-extend-resume", test_enospc);
  g_test_add_func ("/qmp/thin/drive-report", test_drive_report);
  g_test_add_func ("/qmp/thin/drive-enospc", test_drive_enospc);
  g_test_add_func ("/qmp/thin/resync/missed-while-away", test_missed_while_away);
  g_test_add_func ("/qmp/thin/resync/paused-by-user-while-away", test_paused_by_user_while_away);
  g_test_add_func ("/qmp/thin/resync/qemu-restarted", test_qemu_restarted);
  g_test_add_func ("/qmp/thin/resync/extend-then-eio", test_extend_then_eio);
  g_test_add_func ("/qmp/thin/eio-storm", test_eio_storm);
  g_test_add_func ("/qmp/thin/monitor/user-stop-during-nospace", test_user_stop_during_nospace);
  g_test_add_func ("/qmp/thin/monitor/extended-while-away", test_extended_while_away);
  g_test_add_func ("/qmp/thin/monitor/connect-sync-exceeded", test_connect_sync_exceeded);
  {
    static const FillCase fast4 = { 4, 0, QMP_THIN_DEFAULT_FREE_PERCENT };
    static const FillCase fast16 = { 16, 0, QMP_THIN_DEFAULT_FREE_PERCENT };
    static const FillCase slow = { 2, 200, QMP_THIN_DEFAULT_FREE_PERCENT };
    /* A threshold at the very end of the storage: every extension comes
     * with an ENOSPC pause, and with 1 MiB chunks the pauses come
     * milliseconds apart, inside QEMU 10.0's one-second window. */
    static const FillCase at_end8 = { 8, 0, 100 };
    static const FillCase at_end1 = { 1, 0, 100 };

    g_test_add_data_func ("/qmp/thin/monitor/fill-chunk-4m", &fast4, test_monitor_fill);
    g_test_add_data_func ("/qmp/thin/monitor/fill-chunk-16m", &fast16, test_monitor_fill);
    g_test_add_data_func ("/qmp/thin/monitor/fill-slow-extender", &slow, test_monitor_fill);
    g_test_add_data_func ("/qmp/thin/monitor/fill-threshold-at-end", &at_end8, test_monitor_fill);
    g_test_add_data_func ("/qmp/thin/monitor/fill-pauses-back-to-back", &at_end1, test_monitor_fill);
  }

  return g_test_run ();
}
