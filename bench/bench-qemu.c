/* bench-qemu.c: libqmpthin against a real QEMU, next to a bare C client
 * on the same QEMU in the same run
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * One TCG machine with two QMP monitors: the client on one, the floor (a
 * blocking socket, lines split by hand and parsed with json-glib, the
 * least any client does) on the other.
 *
 *   round trips   sequential query-status, client and floor alternately;
 *                 QEMU runs one command at a time, so this is QEMU's pace
 *                 as much as the client's.
 *   latency       the boot-sector guest writes its 64 MiB data disk; the
 *                 client arms a write threshold at every MiB, again from
 *                 its handler each time it fires. For each event, the
 *                 time from QEMU's timestamp (taken in the write path,
 *                 when the write crossed) to the client's handler, and to
 *                 the floor reading the same event on the other monitor.
 *
 *   poll          (--poll, instead of the above) a machine with no guest
 *                 (-machine none) and a qcow2 node on a raw node on a
 *                 file node; a QmpThinMonitor watches the file node and
 *                 polls every --interval ms, --polls times: the client's
 *                 CPU time per poll, the idle baseline taken off (the
 *                 same monitor, the poll off, as long), then sequential
 *                 query-blockstats (query-nodes) round trips from the
 *                 client and from the floor, and the reply's size.
 *
 *   bench-qemu [--rounds N] [--count N]
 *   bench-qemu --poll [--interval MS] [--polls N]
 */

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib/gstdio.h>
#include <qmpthin/qmpthin.h>

#include "qemu-rig.h"

#define MiB (1024 * 1024)
#define DISK_SIZE (64 * MiB)

static int
compare_doubles (const void *a,
                 const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/* The @q quantile (0.5: median) of @values, sorted in place. */
static double
quantile (GArray *values,
          double  q)
{
  guint i;

  g_assert (values->len > 0);
  qsort (values->data, values->len, sizeof (double), compare_doubles);
  i = MIN ((guint) (q * values->len), values->len - 1);
  return g_array_index (values, double, i);
}

/* ------------------------------------------------------------------------ */
/* The floor: a blocking UNIX socket, and json-glib for every line. */

typedef struct {
  int fd;
  GString *buffer;              /* bytes read past the last line */
} Floor;

/* The next line, without its end; NULL once the peer closed or after
 * @timeout_ms without one (-1: wait). */
static char *
floor_read_line (Floor *floor,
                 int    timeout_ms)
{
  for (;;)
    {
      char *newline = memchr (floor->buffer->str, '\n', floor->buffer->len);
      char chunk[65536];
      struct pollfd pfd = { floor->fd, POLLIN, 0 };
      ssize_t n;

      if (newline != NULL)
        {
          char *line = g_strndup (floor->buffer->str, newline - floor->buffer->str);

          g_string_erase (floor->buffer, 0, newline - floor->buffer->str + 1);
          return line;
        }
      if (poll (&pfd, 1, timeout_ms) <= 0)
        return NULL;
      n = read (floor->fd, chunk, sizeof chunk);
      if (n <= 0)
        return NULL;
      g_string_append_len (floor->buffer, chunk, n);
    }
}

static JsonNode *
floor_parse (const char *line)
{
  g_autoptr(JsonParser) parser = json_parser_new_immutable ();
  g_autoptr(GError) error = NULL;

  if (!json_parser_load_from_data (parser, line, -1, &error))
    g_error ("floor: %s: %s", line, error->message);
  return json_node_ref (json_parser_get_root (parser));
}

static void
floor_send (Floor      *floor,
            const char *text)
{
  gsize length = strlen (text);

  if (write (floor->fd, text, length) != (ssize_t) length)
    g_error ("floor: write: %s", g_strerror (errno));
}

static void
floor_connect (Floor      *floor,
               const char *path)
{
  struct sockaddr_un address = { .sun_family = AF_UNIX };
  g_autofree char *greeting = NULL;
  g_autofree char *reply = NULL;

  g_strlcpy (address.sun_path, path, sizeof address.sun_path);
  floor->fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (floor->fd < 0 || connect (floor->fd, (struct sockaddr *) &address, sizeof address) < 0)
    g_error ("floor: connect %s: %s", path, g_strerror (errno));
  floor->buffer = g_string_new (NULL);
  greeting = floor_read_line (floor, 10000);
  floor_send (floor, "{\"execute\": \"qmp_capabilities\"}\n");
  reply = floor_read_line (floor, 10000);
  if (greeting == NULL || reply == NULL || strstr (reply, "\"return\"") == NULL)
    g_error ("floor: no QMP on %s", path);
}

static void
floor_close (Floor *floor)
{
  close (floor->fd);
  g_string_free (floor->buffer, TRUE);
}

/* N sequential query-status; returns round trips per second. */
static double
floor_rtt (Floor *floor,
           guint  n)
{
  gint64 start = g_get_monotonic_time ();

  for (guint i = 0; i < n; i++)
    {
      g_autofree char *line = NULL;
      g_autoptr(JsonNode) node = NULL;

      floor_send (floor, "{\"execute\": \"query-status\", \"id\": 1}\n");
      /* The VM is paused before boot: nothing but the reply comes. */
      line = floor_read_line (floor, 10000);
      if (line == NULL)
        g_error ("floor: no reply");
      node = floor_parse (line);
      if (!json_object_has_member (json_node_get_object (node), "return"))
        g_error ("floor: %s", line);
    }
  return n / ((g_get_monotonic_time () - start) / 1e6);
}

/* The floor's half of the latency run, in a thread of its own. */
typedef struct {
  Floor *floor;
  GArray *latencies_ms;         /* double */
  gint stop;                    /* atomic */
} FloorWatch;

static gpointer
floor_watch (gpointer data)
{
  FloorWatch *watch = data;

  while (!g_atomic_int_get (&watch->stop))
    {
      g_autofree char *line = floor_read_line (watch->floor, 100);
      g_autoptr(JsonNode) node = NULL;
      JsonObject *object;

      if (line == NULL)
        continue;
      node = floor_parse (line);
      object = json_node_get_object (node);
      if (g_strcmp0 (json_object_get_string_member_with_default (object, "event", NULL),
                     "BLOCK_WRITE_THRESHOLD") == 0)
        {
          gint64 now = g_get_real_time ();
          JsonObject *stamp = json_object_get_object_member (object, "timestamp");
          gint64 usec = json_object_get_int_member (stamp, "seconds") * G_USEC_PER_SEC +
                        json_object_get_int_member (stamp, "microseconds");
          double ms = (now - usec) / 1000.0;

          g_array_append_val (watch->latencies_ms, ms);
        }
    }
  return NULL;
}

/* ------------------------------------------------------------------------ */
/* The client */

typedef struct {
  QmpClient *client;
  guint remaining;
} RttRun;

static void
on_rtt_reply (GObject      *source,
              GAsyncResult *result,
              gpointer      user_data)
{
  RttRun *run = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = qmp_client_execute_finish (QMP_CLIENT (source), result, &error);

  if (value == NULL)
    g_error ("query-status: %s", error->message);
  if (--run->remaining > 0)
    qmp_client_execute_async (run->client, "query-status", NULL, NULL, on_rtt_reply, run);
}

/* N sequential query-status, each sent from the previous one's callback;
 * returns round trips per second. */
static double
client_rtt (QmpClient *client,
            guint      n)
{
  RttRun run = { client, n };
  gint64 start = g_get_monotonic_time ();

  qmp_client_execute_async (client, "query-status", NULL, NULL, on_rtt_reply, &run);
  while (run.remaining > 0)
    g_main_context_iteration (NULL, TRUE);
  return n / ((g_get_monotonic_time () - start) / 1e6);
}

typedef struct {
  GArray *latencies_ms;         /* double */
  guint64 next;                 /* the next threshold to arm */
} Watch;

static void
on_threshold (QmpClient              *client,
              QmpWriteThresholdEvent *event,
              gpointer                user_data)
{
  Watch *watch = user_data;
  double ms = (g_get_real_time () - qmp_event_get_timestamp_usec (QMP_EVENT (event))) / 1000.0;

  g_array_append_val (watch->latencies_ms, ms);
  /* The next MiB past this write, as an agent re-arms after extending. */
  watch->next = (qmp_write_threshold_event_get_end_offset (event) / MiB + 1) * MiB;
  if (watch->next < DISK_SIZE)
    qmp_client_set_write_threshold_async (client, "data-file", watch->next, NULL, NULL, NULL);
}

/* ------------------------------------------------------------------------ */

static char *
make_disks (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("qmpthin-bench-XXXXXX", &error);
  g_autofree char *boot = NULL;
  g_autofree char *boot_path = NULL;
  g_autofree char *data_path = NULL;
  gsize length;
  const char *guest = g_getenv ("QMP_TEST_GUEST_BOOT");

  if (dir == NULL)
    g_error ("%s", error->message);
  if (guest == NULL || !g_file_get_contents (guest, &boot, &length, &error))
    g_error ("the boot-sector guest ($QMP_TEST_GUEST_BOOT): %s", error ? error->message : "unset");
  boot_path = g_build_filename (dir, "boot.img", NULL);
  data_path = g_build_filename (dir, "data.raw", NULL);
  if (!g_file_set_contents (boot_path, boot, length, &error))
    g_error ("%s", error->message);
  if (truncate (boot_path, MiB) < 0 || !g_file_set_contents (data_path, "", 0, &error) ||
      truncate (data_path, DISK_SIZE) < 0)
    g_error ("disks in %s: %s", dir, error ? error->message : g_strerror (errno));
  return g_steal_pointer (&dir);
}

static void
remove_disks (const char *dir)
{
  const char *names[] = { "boot.img", "data.raw" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_build_filename (dir, names[i], NULL);

      g_unlink (path);
    }
  g_rmdir (dir);
}

static gboolean
guest_done (QmpTestQemu *qemu)
{
  g_autofree char *path = g_build_filename (qmp_test_qemu_get_dir (qemu), "serial.log", NULL);
  g_autofree char *log = NULL;

  return g_file_get_contents (path, &log, NULL, NULL) && strstr (log, "DONE") != NULL;
}

static gboolean
on_tick (gpointer user_data)
{
  return G_SOURCE_CONTINUE;
}

/* ------------------------------------------------------------------------ */
/* The poll */

/* User + system time of this process, in seconds (QEMU is a child: not
 * counted). */
static double
cpu_s (void)
{
  struct rusage ru;

  getrusage (RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static gboolean
set_flag (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the default main context for @ms. */
static void
run_for (guint ms)
{
  gboolean done = FALSE;

  g_timeout_add (ms, set_flag, &done);
  while (!done)
    g_main_context_iteration (NULL, TRUE);
}

typedef struct {
  QmpClient *client;
  GArray *rtts_ms;              /* double */
  guint remaining;
  gint64 sent_at;
} StatsRun;

static void
on_stats_reply (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  StatsRun *run = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) stats = qmp_client_query_blockstats_finish (QMP_CLIENT (source), result, &error);
  double ms = (g_get_monotonic_time () - run->sent_at) / 1000.0;

  if (stats == NULL)
    g_error ("query-blockstats: %s", error->message);
  g_array_append_val (run->rtts_ms, ms);
  if (--run->remaining > 0)
    {
      run->sent_at = g_get_monotonic_time ();
      qmp_client_query_blockstats_async (run->client, TRUE, NULL, on_stats_reply, run);
    }
}

static int
bench_poll (int interval,
            int n_polls)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("qmpthin-bench-XXXXXX", &error);
  g_autofree char *image = NULL;
  g_autofree char *qemu_img = qmp_test_qemu_find_tool ("qemu-img");
  g_autofree char *file_arg = NULL;
  g_autofree char *floor_path = NULL;
  g_autoptr(QmpTestQemu) qemu = NULL;
  g_autoptr(QmpClient) client = NULL;
  g_autoptr(QmpThinMonitor) monitor = NULL;
  g_autoptr(GArray) client_rtts = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) floor_rtts = g_array_new (FALSE, FALSE, sizeof (double));
  g_autofree char *reply = NULL;
  StatsRun stats_run;
  QmpThinDisk *disk;
  Floor floor;
  gint64 deadline, start;
  double idle_s, idle_cpu, poll_s, poll_cpu, rtt_cpu, baseline;
  int status;
  guint polls, first_polls;

  if (dir == NULL)
    g_error ("%s", error->message);
  image = g_build_filename (dir, "data.qcow2", NULL);
  {
    /* Sparse: the image is a few hundred KiB whatever its virtual size. */
    const char *argv[] = { qemu_img, "create", "-q", "-f", "qcow2", image, "20G", NULL };

    if (!g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, NULL, NULL, &status, &error) ||
        !g_spawn_check_wait_status (status, &error))
      g_error ("qemu-img create: %s", error->message);
  }
  file_arg = g_strdup_printf ("driver=file,node-name=data-file,filename=%s", image);
  {
    const char *args[] = {
      "-machine", "none",
      "-chardev", "socket,id=floor,path=@DIR@/floor.sock,server=on,wait=off",
      "-mon", "chardev=floor,mode=control",
      "-blockdev", file_arg,
      "-blockdev", "driver=raw,node-name=data-lim,file=data-file",
      "-blockdev", "driver=qcow2,node-name=data-fmt,file=data-lim",
      NULL
    };

    qemu = qmp_test_qemu_start (args);
  }
  floor_path = g_build_filename (qmp_test_qemu_get_dir (qemu), "floor.sock", NULL);
  floor_connect (&floor, floor_path);
  client = qmp_client_new (qmp_test_qemu_get_address (qemu));
  if (!qmp_client_connect_sync (client, NULL, &error))
    g_error ("connect: %s", error->message);

  /* 1 GiB of storage in 256 MiB chunks: armed far above the image. */
  monitor = qmp_thin_monitor_new (client);
  disk = qmp_thin_monitor_add_disk (monitor, "data-file", 1024 * MiB, 256 * MiB, 50);
  deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
  while (qmp_thin_disk_get_state (disk) != QMP_THIN_DISK_STATE_ARMED && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  if (qmp_thin_disk_get_state (disk) != QMP_THIN_DISK_STATE_ARMED)
    g_error ("the disk was not armed");
  run_for (300);

  /* The baseline: the poll off, as long as the polls should take. */
  start = g_get_monotonic_time ();
  idle_cpu = cpu_s ();
  run_for ((guint) interval * n_polls);
  idle_cpu = cpu_s () - idle_cpu;
  idle_s = (g_get_monotonic_time () - start) / 1e6;

  /* The first poll reads the graph too (a snapshot may have come since
   * it was read): left out, the steady state is measured. */
  qmp_thin_monitor_set_poll_interval (monitor, interval);
  while (qmp_thin_monitor_get_n_polls (monitor) < 1)
    g_main_context_iteration (NULL, TRUE);
  run_for (50);
  first_polls = qmp_thin_monitor_get_n_polls (monitor);

  /* The poll, then what is still in flight. */
  start = g_get_monotonic_time ();
  poll_cpu = cpu_s ();
  while (qmp_thin_monitor_get_n_polls (monitor) < first_polls + (guint) n_polls)
    g_main_context_iteration (NULL, TRUE);
  qmp_thin_monitor_set_poll_interval (monitor, 0);
  run_for (50);
  poll_cpu = cpu_s () - poll_cpu;
  poll_s = (g_get_monotonic_time () - start) / 1e6;
  polls = qmp_thin_monitor_get_n_polls (monitor) - first_polls;
  if (qmp_thin_disk_get_state (disk) != QMP_THIN_DISK_STATE_ARMED)
    g_error ("the disk is not armed after the poll");
  baseline = idle_cpu * poll_s / idle_s;

  /* The bare command, from the client and from the floor. */
  stats_run = (StatsRun) { client, client_rtts, n_polls, g_get_monotonic_time () };
  rtt_cpu = cpu_s ();
  qmp_client_query_blockstats_async (client, TRUE, NULL, on_stats_reply, &stats_run);
  while (stats_run.remaining > 0)
    g_main_context_iteration (NULL, TRUE);
  rtt_cpu = cpu_s () - rtt_cpu;
  for (int i = 0; i < n_polls; i++)
    {
      gint64 t0 = g_get_monotonic_time ();
      g_autoptr(JsonNode) node = NULL;
      double ms;

      g_free (reply);
      floor_send (&floor, "{\"execute\": \"query-blockstats\", \"arguments\": {\"query-nodes\": true}, \"id\": 1}\n");
      reply = floor_read_line (&floor, 10000);
      if (reply == NULL)
        g_error ("floor: no reply");
      node = floor_parse (reply);
      ms = (g_get_monotonic_time () - t0) / 1000.0;
      if (!json_object_has_member (json_node_get_object (node), "return"))
        g_error ("floor: %s", reply);
      g_array_append_val (floor_rtts, ms);
    }

  g_print ("QEMU %s, -machine none, qcow2 on raw on file\n", qmp_client_get_qemu_version (client));
  g_print ("poll every %d ms (%u polls in %.2f s):\n", interval, polls, poll_s);
  g_print ("  client CPU per poll %.1f us (idle baseline %.2f us per poll, taken off)\n",
           (poll_cpu - baseline) / polls * 1e6, baseline / polls * 1e6);
  g_print ("query-blockstats query-nodes=true, sequential (%d each):\n", n_polls);
  g_print ("  reply %zu bytes with its line end\n", strlen (reply) + 1);
  g_print ("  libqmpthin p50 %.3f ms (CPU %.1f us per round trip)   floor p50 %.3f ms\n",
           quantile (client_rtts, 0.5), rtt_cpu / n_polls * 1e6, quantile (floor_rtts, 0.5));

  floor_close (&floor);
  g_clear_object (&monitor);
  qmp_client_close_sync (client, NULL, NULL);
  g_clear_pointer (&qemu, qmp_test_qemu_free);
  g_unlink (image);
  g_rmdir (dir);
  return 0;
}

int
main (int    argc,
      char **argv)
{
  int rounds = 5, count = 2000, interval = 20, n_polls = 300;
  gboolean poll_mode = FALSE;
  GOptionEntry entries[] = {
    { "poll", 0, 0, G_OPTION_ARG_NONE, &poll_mode, "Measure the thin monitor's poll instead", NULL },
    { "interval", 0, 0, G_OPTION_ARG_INT, &interval, "Poll interval (--poll; 20)", "MS" },
    { "polls", 0, 0, G_OPTION_ARG_INT, &n_polls, "Polls, and round trips (--poll; 300)", "N" },
    { "rounds", 0, 0, G_OPTION_ARG_INT, &rounds, "Alternate client and floor this many times (5)", "N" },
    { "count", 0, 0, G_OPTION_ARG_INT, &count, "Round trips per measurement (2000)", "N" },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) options = g_option_context_new ("- libqmpthin and a bare client on a real QEMU");
  g_autoptr(GError) error = NULL;
  g_autofree char *disks = NULL;
  g_autofree char *boot_arg = NULL;
  g_autofree char *data_arg = NULL;
  g_autoptr(QmpTestQemu) qemu = NULL;
  g_autoptr(QmpClient) client = NULL;
  g_autoptr(GArray) client_rtts = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) floor_rtts = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) client_latencies = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr(GArray) floor_latencies = g_array_new (FALSE, FALSE, sizeof (double));
  g_autofree char *floor_path = NULL;
  Floor floor;
  FloorWatch floor_watch_data = { &floor, floor_latencies, 0 };
  Watch watch = { client_latencies, MiB };
  GThread *thread;
  gint64 deadline;
  guint tick;
  double c, f;

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error) || rounds < 1 || count < 1 ||
      interval < 1 || n_polls < 1)
    {
      g_printerr ("bench-qemu: %s\n", error ? error->message :
                  "--rounds, --count, --interval and --polls must be at least 1");
      return 2;
    }
  if (!qmp_test_qemu_require ())
    {
      g_printerr ("bench-qemu: QEMU is not installed\n");
      return 77;
    }
  if (poll_mode)
    return bench_poll (interval, n_polls);

  disks = make_disks ();
  boot_arg = g_strdup_printf ("driver=file,node-name=boot-file,filename=%s/boot.img", disks);
  data_arg = g_strdup_printf ("driver=file,node-name=data-file,filename=%s/data.raw", disks);
  {
    const char *args[] = {
      "-machine", "pc,accel=tcg", "-m", "32", "-S", "-serial", "file:@DIR@/serial.log",
      "-chardev", "socket,id=floor,path=@DIR@/floor.sock,server=on,wait=off",
      "-mon", "chardev=floor,mode=control",
      "-blockdev", boot_arg,
      "-blockdev", "driver=raw,node-name=boot-fmt,file=boot-file",
      "-device", "ide-hd,bus=ide.0,unit=0,drive=boot-fmt,id=bootdisk,bootindex=0",
      "-blockdev", data_arg,
      "-blockdev", "driver=raw,node-name=data-fmt,file=data-file",
      "-device", "virtio-blk-pci,drive=data-fmt,id=datadisk",
      NULL
    };

    qemu = qmp_test_qemu_start (args);
  }
  floor_path = g_build_filename (qmp_test_qemu_get_dir (qemu), "floor.sock", NULL);
  floor_connect (&floor, floor_path);
  client = qmp_client_new (qmp_test_qemu_get_address (qemu));
  if (!qmp_client_connect_sync (client, NULL, &error))
    g_error ("connect: %s", error->message);

  /* Round trips, alternately, after one warm-up each. */
  client_rtt (client, 100);
  floor_rtt (&floor, 100);
  for (int i = 0; i < rounds; i++)
    {
      c = client_rtt (client, count);
      f = floor_rtt (&floor, count);
      g_array_append_val (client_rtts, c);
      g_array_append_val (floor_rtts, f);
    }

  /* Latency: the guest writes while both watch. */
  g_signal_connect (client, "block-write-threshold", G_CALLBACK (on_threshold), &watch);
  thread = g_thread_new ("floor", floor_watch, &floor_watch_data);
  if (!qmp_client_set_write_threshold_sync (client, "data-file", watch.next, NULL, &error) ||
      !qmp_client_cont_sync (client, NULL, &error))
    g_error ("arm and cont: %s", error->message);
  tick = g_timeout_add (100, on_tick, NULL);
  deadline = g_get_monotonic_time () + 120 * G_USEC_PER_SEC;
  while (!guest_done (qemu) && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_source_remove (tick);
  g_atomic_int_set (&floor_watch_data.stop, 1);
  g_thread_join (thread);
  if (!guest_done (qemu) || client_latencies->len == 0 || floor_latencies->len == 0)
    g_error ("the guest did not finish writing: %u events seen", client_latencies->len);

  c = quantile (client_rtts, 0.5);
  f = quantile (floor_rtts, 0.5);
  g_print ("QEMU %s, TCG\n", qmp_client_get_qemu_version (client));
  g_print ("round trips (query-status, sequential, median of %d x %d):\n", rounds, count);
  g_print ("  libqmpthin %8.0f/s   floor %8.0f/s   ratio %.2f\n", c, f, c / f);
  g_print ("crossing write -> handler (%u events):\n", client_latencies->len);
  g_print ("  libqmpthin p50 %.3f ms p99 %.3f ms   floor p50 %.3f ms p99 %.3f ms\n",
           quantile (client_latencies, 0.5), quantile (client_latencies, 0.99),
           quantile (floor_latencies, 0.5), quantile (floor_latencies, 0.99));

  floor_close (&floor);
  qmp_client_close_sync (client, NULL, NULL);
  g_clear_pointer (&qemu, qmp_test_qemu_free);
  remove_disks (disks);
  return 0;
}
