/* test-thin-rate.c: fixed and adaptive sizing against a guest that writes
 * at a chosen rate, on a real QEMU
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The boot-sector guest (guest/boot.S) fills a 32 MiB thin disk that
 * starts with 2 MiB of storage, at most PACE writes of 32 KiB per BIOS
 * timer tick (the word at offset 508 of its sector). The consumer's back
 * end takes 200 ms per extension; the configured chunk is 2 MiB. Fixed
 * sizing (vdsm's rule) cannot keep up with a writer faster than about
 * 1.6 MiB per 200 ms and pauses the VM at most extensions; adaptive sizing
 * pauses it at most once: at the first extension, before the monitor has
 * seen the guest write, or, when the guest was just slow enough not to
 * pause there, at the one asked for as soon as its rate is known. The
 * verdict is the pause count, not a speed: the rate the guest reaches
 * (TCG, a busy host, valgrind slowing the monitor) only changes the
 * margins adaptive sizing chooses, which it measures.
 */

#include <string.h>

#include <glib/gstdio.h>
#include <qmpthin/qmpthin.h>

#include "qemu-rig.h"

#define MiB (1024 * 1024)
#define VIRTUAL_MIB 32
#define CONTAINER_MIB (VIRTUAL_MIB + 16)
#define BACK_END_MS 200
#define PACE_OFFSET 508

typedef struct {
  QmpTestQemu *qemu;
  char *disks;                  /* owned: the disks' directory */
  QmpClient *client;
  QmpThinMonitor *monitor;
  QmpThinDisk *disk;            /* unowned: the monitor's */
  guint64 delayed_size;         /* an extension waiting for the back end */
  guint back_end_source;
  guint n_needs;
  guint n_stops;
  gint64 first_need;            /* monotonic: the guest is writing */
} Run;

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

/* The disks: qcow2 in a sparse file (the "volume group"), and the guest's
 * sector, paced, padded to 1 MiB. */
static void
make_disks (Run   *run,
            guint  pace)
{
  const char *guest = g_getenv ("QMP_TEST_GUEST_BOOT");
  g_autofree char *data = g_build_filename (run->disks, "data.qcow2", NULL);
  g_autofree char *boot = g_build_filename (run->disks, "boot.img", NULL);
  g_autofree char *qemu_img = qmp_test_qemu_find_tool ("qemu-img");
  g_autofree char *size = g_strdup_printf ("%uM", VIRTUAL_MIB);
  const char *create[] = { qemu_img, "create", "-q", "-f", "qcow2", data, size, NULL };
  g_autofree char *sector = NULL;
  gsize length;

  run_tool (create);
  g_assert_cmpint (truncate (data, (off_t) CONTAINER_MIB * MiB), ==, 0);

  g_assert_nonnull (guest);
  g_assert_true (g_file_get_contents (guest, &sector, &length, NULL));
  g_assert_cmpuint (length, ==, 512);
  /* The word is 0 as built: the guest writes at full speed. */
  g_assert_cmpuint ((guchar) sector[PACE_OFFSET], ==, 0);
  g_assert_cmpuint ((guchar) sector[PACE_OFFSET + 1], ==, 0);
  sector[PACE_OFFSET] = pace & 0xff;
  sector[PACE_OFFSET + 1] = pace >> 8;
  g_assert_true (g_file_set_contents (boot, sector, length, NULL));
  g_assert_cmpint (truncate (boot, MiB), ==, 0);
}

static char *
serial_log (Run *run)
{
  g_autofree char *path = g_build_filename (qmp_test_qemu_get_dir (run->qemu), "serial.log", NULL);
  char *contents = NULL;

  g_file_get_contents (path, &contents, NULL, NULL);
  return contents ? contents : g_strdup ("");
}

static gboolean
on_timeout_flag (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

static void
run_for (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, on_timeout_flag, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

/* The back end: a blockdev-reopen of the raw node with the new size, as a
 * grown logical volume, BACK_END_MS after the need. */
static gboolean
on_back_end_done (gpointer user_data)
{
  Run *run = user_data;
  g_autoptr(JsonObject) arguments = json_object_new ();
  g_autoptr(JsonArray) options = json_array_new ();
  g_autoptr(JsonObject) raw = json_object_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = NULL;
  guint64 size = run->delayed_size;

  run->delayed_size = 0;
  run->back_end_source = 0;
  json_object_set_string_member (raw, "driver", "raw");
  json_object_set_string_member (raw, "node-name", "data-lim");
  json_object_set_string_member (raw, "file", "data-file");
  json_object_set_int_member (raw, "size", (gint64) size);
  json_array_add_object_element (options, g_steal_pointer (&raw));
  json_object_set_array_member (arguments, "options", g_steal_pointer (&options));
  value = qmp_client_execute_sync (run->client, "blockdev-reopen", arguments, NULL, &error);
  g_assert_no_error (error);
  qmp_thin_monitor_extended (run->monitor, "data-file", size);
  return G_SOURCE_REMOVE;
}

static void
on_extend_needed (QmpThinMonitor  *monitor,
                  QmpThinDisk     *disk,
                  guint64          wanted_size,
                  QmpExtendReason  reason,
                  gpointer         user_data)
{
  Run *run = user_data;

  g_assert_cmpuint (run->delayed_size, ==, 0);
  if (run->n_needs++ == 0)
    run->first_need = g_get_monotonic_time ();
  run->delayed_size = MIN (wanted_size, (guint64) CONTAINER_MIB * MiB);
  run->back_end_source = g_timeout_add (BACK_END_MS, on_back_end_done, run);
}

static double
ms (QmpThinTiming *timing)
{
  return qmp_thin_timing_get_mean_usec (timing) / 1e3;
}

static void
on_stop (QmpClient *client,
         QmpEvent  *event,
         gpointer   user_data)
{
  Run *run = user_data;

  run->n_stops++;
  /* What the monitor knew when the VM paused: a pause past the first
   * tells which of its estimates fell short. */
  if (run->disk != NULL)
    g_test_message ("pause %u: %u extensions done, %s; size %" G_GUINT64_FORMAT " KiB, threshold %"
                    G_GUINT64_FORMAT " KiB, rate %.1f MiB/s, mean ms: notice %.1f, back end %.1f (last %.1f), "
                    "re-arm %.1f",
                    run->n_stops, qmp_thin_disk_get_n_extensions (run->disk),
                    run->back_end_source != 0 ? "one asked" : "none asked",
                    qmp_thin_disk_get_physical_size (run->disk) / 1024,
                    qmp_thin_disk_get_threshold (run->disk) / 1024,
                    qmp_thin_disk_get_write_rate (run->disk) / (double) MiB,
                    ms (qmp_thin_disk_get_timing (run->disk, QMP_THIN_PHASE_NOTICE)),
                    ms (qmp_thin_disk_get_timing (run->disk, QMP_THIN_PHASE_EXTEND)),
                    qmp_thin_timing_get_last_usec (qmp_thin_disk_get_timing (run->disk, QMP_THIN_PHASE_EXTEND)) / 1e3,
                    ms (qmp_thin_disk_get_timing (run->disk, QMP_THIN_PHASE_REARM)));
}

/* The guest fills its disk at @pace with @sizing: how many times the VM
 * paused for lack of space; the rate it reached in *rate (MiB/s of
 * running time). */
static guint
fill (guint          pace,
      QmpThinSizing  sizing,
      double        *rate)
{
  const char *args[] = {
    "-machine", "pc,accel=tcg", "-m", "32", "-S", "-serial", "file:@DIR@/serial.log",
    "-blockdev", "driver=file,node-name=boot-file,filename=@DISKS@/boot.img",
    "-blockdev", "driver=raw,node-name=boot-fmt,file=boot-file",
    "-device", "ide-hd,bus=ide.0,unit=0,drive=boot-fmt,id=bootdisk,bootindex=0",
    "-blockdev", "driver=file,node-name=data-file,filename=@DISKS@/data.qcow2",
    "-blockdev", "driver=raw,node-name=data-lim,file=data-file,size=2097152",
    "-blockdev", "driver=qcow2,node-name=data-fmt,file=data-lim",
    "-device", "virtio-blk-pci,drive=data-fmt,id=datadisk,werror=enospc,rerror=stop",
    NULL
  };
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) error = NULL;
  Run run = { 0, };
  QmpThinDisk *disk;
  gint64 start, elapsed, deadline;
  guint64 first_threshold;
  guint pauses;

  run.disks = g_dir_make_tmp ("qmpthin-rate-XXXXXX", &error);
  g_assert_no_error (error);
  make_disks (&run, pace);
  for (guint i = 0; args[i] != NULL; i++)
    {
      g_auto(GStrv) parts = g_strsplit (args[i], "@DISKS@", -1);

      g_ptr_array_add (argv, g_strjoinv (run.disks, parts));
    }
  g_ptr_array_add (argv, NULL);
  run.qemu = qmp_test_qemu_start ((const char * const *) argv->pdata);

  run.client = qmp_client_new (qmp_test_qemu_get_address (run.qemu));
  g_signal_connect (run.client, "stop", G_CALLBACK (on_stop), &run);
  g_assert_true (qmp_client_connect_sync (run.client, NULL, &error));
  g_assert_no_error (error);
  run.monitor = qmp_thin_monitor_new (run.client);
  g_signal_connect (run.monitor, "extend-needed", G_CALLBACK (on_extend_needed), &run);
  disk = qmp_thin_monitor_add_disk (run.monitor, "data-file", 2 * MiB, 2 * MiB, QMP_THIN_DEFAULT_FREE_PERCENT);
  qmp_thin_disk_set_maximum_size (disk, (guint64) CONTAINER_MIB * MiB);
  qmp_thin_disk_set_sizing (disk, sizing);
  run.disk = disk;
  while (qmp_thin_disk_get_state (disk) != QMP_THIN_DISK_STATE_ARMED)
    g_main_context_iteration (NULL, TRUE);
  first_threshold = qmp_thin_disk_get_threshold (disk);

  start = g_get_monotonic_time ();
  g_assert_true (qmp_client_cont_sync (run.client, NULL, &error));
  g_assert_no_error (error);
  deadline = start + 120 * G_USEC_PER_SEC;
  for (;;)
    {
      g_autofree char *log = serial_log (&run);

      if (strstr (log, "DONE") != NULL)
        break;
      if (g_get_monotonic_time () > deadline)
        g_error ("the guest did not finish in 120 s: %u extensions, %u pauses; serial: %s",
                 qmp_thin_disk_get_n_extensions (disk), qmp_thin_monitor_get_n_nospace_pauses (run.monitor), log);
      run_for (20);
    }
  elapsed = g_get_monotonic_time () - start;
  pauses = qmp_thin_monitor_get_n_nospace_pauses (run.monitor);
  /* From the first threshold crossed (SeaBIOS has booted, the guest
   * writes) to the end, pauses taken out: polled every 20 ms, close
   * enough. */
  *rate = ((double) VIRTUAL_MIB * MiB - first_threshold) / MiB /
          ((start + elapsed - run.first_need - qmp_thin_monitor_get_nospace_paused_usec (run.monitor)) / 1e6);

  g_test_message ("QEMU %s, pace %u, %s sizing: %u MiB in %.2f s, %.1f MiB/s running (estimated %.1f); "
                  "%u ENOSPC pauses (%.0f ms in all), %u extensions; mean ms: notice %.1f, back end %.1f, "
                  "re-arm %.1f",
                  qmp_client_get_qemu_version (run.client), pace,
                  sizing == QMP_THIN_SIZING_ADAPTIVE ? "adaptive" : "fixed",
                  VIRTUAL_MIB, elapsed / 1e6, *rate, qmp_thin_disk_get_write_rate (disk) / (double) MiB,
                  pauses, qmp_thin_monitor_get_nospace_paused_usec (run.monitor) / 1e3,
                  qmp_thin_disk_get_n_extensions (disk),
                  ms (qmp_thin_disk_get_timing (disk, QMP_THIN_PHASE_NOTICE)),
                  ms (qmp_thin_disk_get_timing (disk, QMP_THIN_PHASE_EXTEND)),
                  ms (qmp_thin_disk_get_timing (disk, QMP_THIN_PHASE_REARM)));

  /* Every pause was the monitor's to resume, and was resumed; the timings
   * agree with what happened. */
  g_assert_cmpuint (run.n_stops, ==, pauses);
  g_assert_cmpuint (qmp_thin_monitor_get_n_resumes (run.monitor), ==, pauses);
  g_assert_cmpuint (qmp_thin_timing_get_count (qmp_thin_monitor_get_timing (run.monitor, QMP_THIN_PHASE_PAUSE)),
                    ==, pauses);
  g_assert_cmpuint (qmp_thin_timing_get_count (qmp_thin_disk_get_timing (disk, QMP_THIN_PHASE_EXTEND)),
                    ==, qmp_thin_disk_get_n_extensions (disk));
  /* The guest may finish while the back end works on a last extension. */
  g_assert_cmpuint (run.n_needs, ==, qmp_thin_disk_get_n_extensions (disk) + (run.back_end_source != 0));
  g_assert_cmpint (qmp_thin_timing_get_mean_usec (qmp_thin_disk_get_timing (disk, QMP_THIN_PHASE_EXTEND)),
                   >=, BACK_END_MS * 1000);
  g_assert_cmpuint (qmp_thin_disk_get_write_rate (disk), >, 0);

  g_clear_handle_id (&run.back_end_source, g_source_remove);
  run.disk = NULL;
  g_clear_object (&run.monitor);
  g_clear_object (&run.client);
  g_clear_pointer (&run.qemu, qmp_test_qemu_free);
  {
    const char *names[] = { "data.qcow2", "boot.img" };

    for (gsize i = 0; i < G_N_ELEMENTS (names); i++)
      {
        g_autofree char *path = g_build_filename (run.disks, names[i], NULL);

        g_unlink (path);
      }
    g_assert_cmpint (g_rmdir (run.disks), ==, 0);
    g_free (run.disks);
  }
  return pauses;
}

static void
test_fixed_vs_adaptive (gconstpointer data)
{
  guint pace = GPOINTER_TO_UINT (data);
  double fixed_rate, adaptive_rate;
  guint fixed, adaptive;

  if (!qmp_test_qemu_require ())
    return;
  fixed = fill (pace, QMP_THIN_SIZING_FIXED, &fixed_rate);
  adaptive = fill (pace, QMP_THIN_SIZING_ADAPTIVE, &adaptive_rate);
  g_test_message ("pace %u (%.1f MiB/s asked): fixed sizing %u pauses at %.1f MiB/s, "
                  "adaptive sizing %u pauses at %.1f MiB/s",
                  pace, pace * 32 / 1024.0 * 18.2065, fixed, fixed_rate, adaptive, adaptive_rate);
  /* Only what was sized before the rate was known can fall short. */
  g_assert_cmpuint (adaptive, <=, 1);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  /* About 9, 18 and 27 MiB/s: all faster than the 8 MiB/s that 1.6 MiB of
   * room per 200 ms extension covers. */
  g_test_add_data_func ("/qmp/thin-rate/pace-16", GUINT_TO_POINTER (16), test_fixed_vs_adaptive);
  g_test_add_data_func ("/qmp/thin-rate/pace-32", GUINT_TO_POINTER (32), test_fixed_vs_adaptive);
  g_test_add_data_func ("/qmp/thin-rate/pace-48", GUINT_TO_POINTER (48), test_fixed_vs_adaptive);

  return g_test_run ();
}
