/* qmpthin-bench.c: the client against a bare C floor, same server, same run
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Each sub-command prints one JSON object on stdout. The client ones use
 * libqmpthin's public API only; the floor-* ones do what any QMP client
 * must at least do, in plain C: read lines, split them, parse each with
 * json_parser_load_from_data(), and negotiate by hand. Both print the same
 * fields, so a script can divide one by the other.
 *
 *   events   --socket S --count K             x-fake-blast K: events/s, memory
 *   rtt      --socket S --count N             N sequential query-status
 *   pipeline --socket S --count N --window W  N commands, W in flight
 *   fleet    --dir D --vms N [--rounds R] [--idle SECONDS]
 *            N clients in one process: connect all, RSS per connection,
 *            x-fake-broadcast to all (from D/control.sock), idle CPU
 *   floor-events, floor-rtt, floor-pipeline, floor-fleet: the same, bare
 *   poll     --dir D --vms N --interval MS --ticks T
 *            N clients, each with a QmpThinMonitor watching one disk
 *            (data-file): first T x MS of idle time with the poll off, then
 *            the poll on: once every monitor polled once (its first poll
 *            reads the graph too), until every one polled T times more. CPU time of
 *            this process and of the server, and bytes, per VM per poll,
 *            the idle baseline taken off (no floor)
 *   liveness --dir D --vms N --interval MS --idle SECONDS
 *            N clients idle for SECONDS with liveness off, then (after one
 *            interval to start) as long with liveness-interval MS: CPU time
 *            of this process per VM per second each way, their ratio, the
 *            probes sent and the cost of each (no floor)
 *
 * It works against any server that implements x-fake-blast and
 * x-fake-broadcast (bench/fake-qmp does), and x-fake-counters for poll.
 */

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <glib-unix.h>
#include <qmpthin/qmpthin.h>

typedef struct
{
  char *socket_path;
  char *dir;
  int count;
  int window;
  int vms;
  int rounds;
  int idle;
  int interval;
  int ticks;
} Options;

/* ------------------------------------------------------------------------ */
/* Measuring */

/* A field of /proc/self/status in KiB (VmRSS, VmHWM), or -1. */
static gint64
status_kib (const char *field)
{
  g_autofree char *status = NULL;
  const char *line;
  gsize field_len = strlen (field);

  if (!g_file_get_contents ("/proc/self/status", &status, NULL, NULL))
    return -1;
  for (line = status; line != NULL && *line != '\0'; line = strchr (line, '\n'))
    {
      if (*line == '\n')
        line++;
      if (strncmp (line, field, field_len) == 0 && line[field_len] == ':')
        return g_ascii_strtoll (line + field_len + 1, NULL, 10);
    }
  return -1;
}

static gint64
rss_kib (void)
{
  return status_kib ("VmRSS");
}

typedef struct
{
  double cpu_s;                 /* user + system */
  long switches;                /* voluntary + involuntary context switches */
} Usage;

static Usage
usage_now (void)
{
  struct rusage ru;
  Usage u;

  getrusage (RUSAGE_SELF, &ru);
  u.cpu_s = ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
            ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
  u.switches = ru.ru_nvcsw + ru.ru_nivcsw;
  return u;
}

static double
now_s (void)
{
  return g_get_monotonic_time () / 1e6;
}

static int
compare_doubles (const void *a,
                 const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/* The q-quantile of values (sorted in place), nearest rank. */
static double
quantile (double *values,
          guint   n,
          double  q)
{
  guint rank;

  if (n == 0)
    return 0;
  qsort (values, n, sizeof (double), compare_doubles);
  rank = (guint) (q * n + 0.999999);
  return values[CLAMP (rank, 1, n) - 1];
}

static void
raise_nofile_limit (guint64 needed)
{
  struct rlimit limit;

  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max)
    {
      limit.rlim_cur = limit.rlim_max;
      setrlimit (RLIMIT_NOFILE, &limit);
    }
  if (getrlimit (RLIMIT_NOFILE, &limit) == 0 &&
      limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur < needed)
    {
      g_printerr ("qmpthin-bench: the open files limit is %llu, and %" G_GUINT64_FORMAT
                  " are needed: raise the hard limit (ulimit -Hn, or LimitNOFILE=)\n",
                  (unsigned long long) limit.rlim_cur, needed);
      exit (1);
    }
}

/* One JSON object on one line, members in the order added. */
typedef struct
{
  GString *text;
} Report;

static Report
report_new (const char *bench,
            const char *impl)
{
  Report r = { g_string_new ("{") };

  g_string_append_printf (r.text, "\"bench\": \"%s\", \"impl\": \"%s\"", bench, impl);
  return r;
}

static void
report_int (Report     *r,
            const char *name,
            gint64      value)
{
  g_string_append_printf (r->text, ", \"%s\": %" G_GINT64_FORMAT, name, value);
}

static void
report_double (Report     *r,
               const char *name,
               double      value)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];

  g_string_append_printf (r->text, ", \"%s\": %s", name,
                          g_ascii_formatd (buffer, sizeof buffer, "%.6g", value));
}

static void
report_print (Report *r)
{
  g_string_append (r->text, "}\n");
  fputs (r->text->str, stdout);
  fflush (stdout);
  g_string_free (r->text, TRUE);
}

/* ------------------------------------------------------------------------ */
/* The client */

static QmpClient *
client_connect (const char *path)
{
  g_autofree char *address = g_strdup_printf ("unix:%s", path);
  g_autoptr(QmpClient) client = qmp_client_new (address);
  g_autoptr(GError) error = NULL;

  if (!qmp_client_connect_sync (client, NULL, &error))
    {
      g_printerr ("qmpthin-bench: %s\n", error->message);
      exit (1);
    }
  return g_steal_pointer (&client);
}

static JsonObject *
count_arguments (int count)
{
  JsonObject *arguments = json_object_new ();

  json_object_set_int_member (arguments, "count", count);
  return arguments;
}

static void
check_reply (QmpClient    *client,
             GAsyncResult *result)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = qmp_client_execute_finish (client, result, &error);

  if (value == NULL)
    {
      g_printerr ("qmpthin-bench: %s\n", error->message);
      exit (1);
    }
}

typedef struct
{
  GMainLoop *loop;
  guint64 target;
  guint64 n_threshold;
  guint64 n_io_error;
  gboolean replied;
} EventsRun;

static void
events_check_done (EventsRun *run)
{
  if (run->replied && run->n_threshold + run->n_io_error >= run->target)
    g_main_loop_quit (run->loop);
}

static void
on_threshold (QmpClient              *client,
              QmpWriteThresholdEvent *event,
              EventsRun              *run)
{
  run->n_threshold++;
  events_check_done (run);
}

static void
on_io_error (QmpClient            *client,
             QmpBlockIoErrorEvent *event,
             EventsRun            *run)
{
  if (qmp_block_io_error_event_get_nospace (event))
    run->n_io_error++;
  events_check_done (run);
}

static void
on_blast_reply (GObject      *source,
                GAsyncResult *result,
                gpointer      user_data)
{
  EventsRun *run = user_data;

  check_reply (QMP_CLIENT (source), result);
  run->replied = TRUE;
  events_check_done (run);
}

static void
bench_events (Options *o)
{
  g_autoptr(QmpClient) client = client_connect (o->socket_path);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(JsonObject) arguments = count_arguments (o->count);
  EventsRun run = { loop, o->count, 0, 0, FALSE };
  Report r = report_new ("events", "qmpthin");
  gint64 rss_before;
  Usage u0, u1;
  double t0, t1;

  g_signal_connect (client, "block-write-threshold", G_CALLBACK (on_threshold), &run);
  g_signal_connect (client, "block-io-error", G_CALLBACK (on_io_error), &run);
  rss_before = rss_kib ();
  u0 = usage_now ();
  t0 = now_s ();
  qmp_client_execute_async (client, "x-fake-blast", arguments, NULL, on_blast_reply, &run);
  g_main_loop_run (loop);
  t1 = now_s ();
  u1 = usage_now ();

  report_int (&r, "count", run.n_threshold + run.n_io_error);
  report_double (&r, "seconds", t1 - t0);
  report_double (&r, "events_per_s", (run.n_threshold + run.n_io_error) / (t1 - t0));
  report_int (&r, "rss_before_kib", rss_before);
  report_int (&r, "rss_peak_kib", status_kib ("VmHWM"));
  report_int (&r, "rss_after_kib", rss_kib ());
  report_double (&r, "cpu_s", u1.cpu_s - u0.cpu_s);
  report_print (&r);
}

typedef struct
{
  QmpClient *client;
  GMainLoop *loop;
  guint total;
  guint sent;
  guint done;
  double *latencies;            /* seconds, by command */
  double *sent_at;              /* by command */
} CommandsRun;

static void on_query_status (GObject      *source,
                             GAsyncResult *result,
                             gpointer      user_data);

static void
send_query_status (CommandsRun *run)
{
  guint seq = run->sent++;

  run->sent_at[seq] = now_s ();
  qmp_client_execute_async (run->client, "query-status", NULL, NULL, on_query_status,
                            GUINT_TO_POINTER (seq));
}

static CommandsRun *commands_run;

static void
on_query_status (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  CommandsRun *run = commands_run;
  guint seq = GPOINTER_TO_UINT (user_data);

  check_reply (QMP_CLIENT (source), result);
  run->latencies[seq] = now_s () - run->sent_at[seq];
  run->done++;
  if (run->sent < run->total)
    send_query_status (run);
  else if (run->done == run->total)
    g_main_loop_quit (run->loop);
}

static void
report_commands (Report   *r,
                 double   *latencies,
                 guint     count,
                 double    seconds,
                 gint64    rss_before,
                 Usage     u0,
                 Usage     u1)
{
  report_int (r, "count", count);
  report_double (r, "seconds", seconds);
  report_double (r, "per_s", count / seconds);
  report_double (r, "p50_us", quantile (latencies, count, 0.50) * 1e6);
  report_double (r, "p99_us", quantile (latencies, count, 0.99) * 1e6);
  report_int (r, "rss_before_kib", rss_before);
  report_int (r, "rss_peak_kib", status_kib ("VmHWM"));
  report_int (r, "rss_after_kib", rss_kib ());
  report_double (r, "cpu_s", u1.cpu_s - u0.cpu_s);
}

/* rtt is pipeline with a window of one. */
static void
bench_commands (Options    *o,
                const char *bench,
                guint       window)
{
  g_autoptr(QmpClient) client = client_connect (o->socket_path);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autofree double *latencies = g_new0 (double, o->count);
  g_autofree double *sent_at = g_new0 (double, o->count);
  CommandsRun run = { client, loop, o->count, 0, 0, latencies, sent_at };
  Report r = report_new (bench, "qmpthin");
  gint64 rss_before;
  Usage u0, u1;
  double t0, t1;

  commands_run = &run;
  rss_before = rss_kib ();
  u0 = usage_now ();
  t0 = now_s ();
  while (run.sent < MIN (window, run.total))
    send_query_status (&run);
  g_main_loop_run (loop);
  t1 = now_s ();
  u1 = usage_now ();

  if (window > 1)
    report_int (&r, "window", window);
  report_commands (&r, latencies, o->count, t1 - t0, rss_before, u0, u1);
  report_print (&r);
}

typedef struct _FleetRun FleetRun;

typedef struct
{
  FleetRun *run;
  QmpClient *client;
  guint last_round;             /* the last broadcast round it got */
} FleetVm;

struct _FleetRun
{
  GMainLoop *loop;
  guint n_vms;
  guint n_ready;
  guint round;                  /* from 1 */
  guint n_reached;
  gboolean replied;
};

static void
on_vm_connected (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  FleetRun *run = user_data;
  g_autoptr(GError) error = NULL;

  if (!qmp_client_connect_finish (QMP_CLIENT (source), result, &error))
    {
      g_printerr ("qmpthin-bench: %s\n", error->message);
      exit (1);
    }
  if (++run->n_ready == run->n_vms)
    g_main_loop_quit (run->loop);
}

static void
fleet_check_round (FleetRun *run)
{
  if (run->replied && run->n_reached == run->n_vms)
    g_main_loop_quit (run->loop);
}

static void
on_vm_threshold (QmpClient              *client,
                 QmpWriteThresholdEvent *event,
                 FleetVm                *vm)
{
  if (vm->last_round == vm->run->round)
    return;
  vm->last_round = vm->run->round;
  vm->run->n_reached++;
  fleet_check_round (vm->run);
}

static void
on_broadcast_reply (GObject      *source,
                    GAsyncResult *result,
                    gpointer      user_data)
{
  FleetRun *run = user_data;

  check_reply (QMP_CLIENT (source), result);
  run->replied = TRUE;
  fleet_check_round (run);
}

static gboolean
quit_loop (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

static void
report_fleet (Report *r,
              Options *o,
              double  connect_s,
              gint64  rss_before,
              gint64  rss_after,
              double *rounds_s,
              Usage   idle0,
              Usage   idle1)
{
  report_int (r, "vms", o->vms);
  report_double (r, "connect_s", connect_s);
  report_int (r, "rss_before_kib", rss_before);
  report_int (r, "rss_after_kib", rss_after);
  report_double (r, "rss_per_conn_kib", (double) (rss_after - rss_before) / o->vms);
  report_int (r, "rounds", o->rounds);
  report_double (r, "broadcast_median_ms", quantile (rounds_s, o->rounds, 0.5) * 1e3);
  report_double (r, "broadcast_max_ms", quantile (rounds_s, o->rounds, 1.0) * 1e3);
  report_int (r, "idle_s", o->idle);
  report_double (r, "idle_cpu_s", idle1.cpu_s - idle0.cpu_s);
  report_int (r, "idle_switches", idle1.switches - idle0.switches);
}

static void
bench_fleet (Options *o)
{
  g_autofree char *control_path = g_build_filename (o->dir, "control.sock", NULL);
  g_autoptr(QmpClient) control = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(JsonObject) arguments = count_arguments (1);
  g_autofree FleetVm *vms = g_new0 (FleetVm, o->vms);
  g_autofree double *rounds_s = g_new0 (double, o->rounds);
  FleetRun run = { loop, o->vms, 0, 0, 0, FALSE };
  Report r = report_new ("fleet", "qmpthin");
  gint64 rss_before, rss_after;
  Usage idle0, idle1;
  double t0, connect_s;

  raise_nofile_limit ((guint64) o->vms + 64);
  control = client_connect (control_path);
  rss_before = rss_kib ();

  t0 = now_s ();
  for (int i = 0; i < o->vms; i++)
    {
      g_autofree char *address = g_strdup_printf ("unix:%s/vm-%05d.sock", o->dir, i);

      vms[i].run = &run;
      vms[i].client = qmp_client_new (address);
      g_signal_connect (vms[i].client, "block-write-threshold", G_CALLBACK (on_vm_threshold), &vms[i]);
      qmp_client_connect_async (vms[i].client, NULL, on_vm_connected, &run);
    }
  g_main_loop_run (loop);
  connect_s = now_s () - t0;
  rss_after = rss_kib ();

  for (int i = 0; i < o->rounds; i++)
    {
      run.round = i + 1;
      run.n_reached = 0;
      run.replied = FALSE;
      t0 = now_s ();
      qmp_client_execute_async (control, "x-fake-broadcast", arguments, NULL, on_broadcast_reply, &run);
      g_main_loop_run (loop);
      rounds_s[i] = now_s () - t0;
    }

  idle0 = usage_now ();
  g_timeout_add_seconds (o->idle, quit_loop, loop);
  g_main_loop_run (loop);
  idle1 = usage_now ();

  report_fleet (&r, o, connect_s, rss_before, rss_after, rounds_s, idle0, idle1);
  report_print (&r);

  for (int i = 0; i < o->vms; i++)
    g_object_unref (vms[i].client);
}

/* The poll: a thin monitor per VM, polling or not */

typedef struct
{
  GMainLoop *loop;
  guint n_vms;
  guint ticks;
  guint n_armed;                /* disks armed (setting up) */
  guint n_done;                 /* monitors that reached their target */
} PollRun;

typedef struct
{
  PollRun *run;
  QmpClient *client;
  QmpThinMonitor *monitor;
  QmpThinDisk *disk;
  gboolean armed;
  guint target;                 /* polls it is to reach */
  gboolean done;
} PollVm;

static void
on_disk_state (QmpThinDisk *disk,
               GParamSpec  *pspec,
               PollVm      *vm)
{
  QmpThinDiskState state = qmp_thin_disk_get_state (disk);

  if (state != QMP_THIN_DISK_STATE_ARMED && state != QMP_THIN_DISK_STATE_UNSET)
    {
      g_printerr ("qmpthin-bench: disk %s of a monitor went %d, not armed\n",
                  qmp_thin_disk_get_node_name (disk), state);
      exit (1);
    }
  if (state == QMP_THIN_DISK_STATE_ARMED && !vm->armed)
    {
      vm->armed = TRUE;
      if (++vm->run->n_armed == vm->run->n_vms)
        g_main_loop_quit (vm->run->loop);
    }
}

static void
on_n_polls (QmpThinMonitor *monitor,
            GParamSpec     *pspec,
            PollVm         *vm)
{
  if (!vm->done && qmp_thin_monitor_get_n_polls (monitor) >= vm->target)
    {
      vm->done = TRUE;
      if (++vm->run->n_done == vm->run->n_vms)
        g_main_loop_quit (vm->run->loop);
    }
}

/* What the fake server did since it started (x-fake-counters). */
typedef struct
{
  double bytes_sent;
  double bytes_received;
  double commands;
  double cpu_s;
} ServerCounters;

static ServerCounters
server_counters (QmpClient *control)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) value = qmp_client_execute_sync (control, "x-fake-counters", NULL, NULL, &error);
  ServerCounters c;
  JsonObject *object;

  if (value == NULL || !JSON_NODE_HOLDS_OBJECT (value))
    {
      g_printerr ("qmpthin-bench: x-fake-counters: %s\n", error ? error->message : "not an object");
      exit (1);
    }
  object = json_node_get_object (value);
  c.bytes_sent = json_object_get_int_member (object, "bytes-sent");
  c.bytes_received = json_object_get_int_member (object, "bytes-received");
  c.commands = json_object_get_int_member (object, "commands");
  c.cpu_s = json_object_get_int_member (object, "cpu-us") / 1e6;
  return c;
}

static void
bench_poll (Options *o)
{
  g_autofree char *control_path = g_build_filename (o->dir, "control.sock", NULL);
  g_autoptr(QmpClient) control = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autofree PollVm *vms = g_new0 (PollVm, o->vms);
  FleetRun connecting = { loop, o->vms, 0, 0, 0, FALSE };
  PollRun run = { loop, o->vms, o->ticks, 0, 0 };
  Report r = report_new ("poll", "qmpthin");
  ServerCounters s0, s1, s2, s3;
  Usage u0, u1, u2, u3;
  double t0, t1, t2, t3, scale, polls = 0, warm_polls = 0;

  raise_nofile_limit ((guint64) o->vms + 64);
  control = client_connect (control_path);
  for (int i = 0; i < o->vms; i++)
    {
      g_autofree char *address = g_strdup_printf ("unix:%s/vm-%05d.sock", o->dir, i);

      vms[i].run = &run;
      vms[i].target = 1;
      vms[i].client = qmp_client_new (address);
      qmp_client_connect_async (vms[i].client, NULL, on_vm_connected, &connecting);
    }
  g_main_loop_run (loop);

  /* Each disk armed (and its allocation checked), well below its
   * threshold; the graph read once. */
  for (int i = 0; i < o->vms; i++)
    {
      vms[i].monitor = qmp_thin_monitor_new (vms[i].client);
      vms[i].disk = qmp_thin_monitor_add_disk (vms[i].monitor, "data-file", G_GUINT64_CONSTANT (10) << 30,
                                               QMP_THIN_DEFAULT_CHUNK_SIZE, QMP_THIN_DEFAULT_FREE_PERCENT);
      g_signal_connect (vms[i].disk, "notify::state", G_CALLBACK (on_disk_state), &vms[i]);
      g_signal_connect (vms[i].monitor, "notify::n-polls", G_CALLBACK (on_n_polls), &vms[i]);
    }
  g_main_loop_run (loop);
  g_timeout_add (500, quit_loop, loop);
  g_main_loop_run (loop);

  /* The baseline: the same monitors, the poll off, as long as the poll
   * should take. */
  s0 = server_counters (control);
  u0 = usage_now ();
  t0 = now_s ();
  g_timeout_add ((guint) o->ticks * o->interval, quit_loop, loop);
  g_main_loop_run (loop);
  t1 = now_s ();
  u1 = usage_now ();
  s1 = server_counters (control);

  /* The first poll of each monitor reads the graph too (a snapshot may
   * have come since it was read): not counted, the steady state is. */
  for (int i = 0; i < o->vms; i++)
    qmp_thin_monitor_set_poll_interval (vms[i].monitor, o->interval);
  g_main_loop_run (loop);
  g_timeout_add (300, quit_loop, loop);
  g_main_loop_run (loop);

  /* The poll, until every monitor polled ticks times more, and what was
   * in flight then. */
  run.n_done = 0;
  for (int i = 0; i < o->vms; i++)
    {
      guint n = qmp_thin_monitor_get_n_polls (vms[i].monitor);

      warm_polls += n;
      vms[i].target = n + o->ticks;
      vms[i].done = FALSE;
    }
  s2 = server_counters (control);
  u2 = usage_now ();
  t2 = now_s ();
  g_main_loop_run (loop);
  /* The polls still in flight complete and count. */
  for (int i = 0; i < o->vms; i++)
    qmp_thin_monitor_set_poll_interval (vms[i].monitor, 0);
  g_timeout_add (300, quit_loop, loop);
  g_main_loop_run (loop);
  t3 = now_s ();
  u3 = usage_now ();
  s3 = server_counters (control);
  polls = -warm_polls;
  for (int i = 0; i < o->vms; i++)
    {
      polls += qmp_thin_monitor_get_n_polls (vms[i].monitor);
      if (qmp_thin_disk_get_state (vms[i].disk) != QMP_THIN_DISK_STATE_ARMED)
        {
          g_printerr ("qmpthin-bench: a disk is not armed after the poll\n");
          exit (1);
        }
    }

  /* The baseline over the poll's wall time. */
  scale = (t3 - t2) / (t1 - t0);
  report_int (&r, "vms", o->vms);
  report_int (&r, "interval_ms", o->interval);
  report_int (&r, "ticks", o->ticks);
  report_double (&r, "polls", polls);
  report_double (&r, "poll_s", t3 - t2);
  report_double (&r, "poll_cpu_s", u3.cpu_s - u2.cpu_s);
  report_double (&r, "idle_s", t1 - t0);
  report_double (&r, "idle_cpu_s", u1.cpu_s - u0.cpu_s);
  report_double (&r, "idle_cpu_per_poll_us", (u1.cpu_s - u0.cpu_s) * scale / polls * 1e6);
  report_double (&r, "cpu_per_poll_us", ((u3.cpu_s - u2.cpu_s) - (u1.cpu_s - u0.cpu_s) * scale) / polls * 1e6);
  report_double (&r, "server_idle_cpu_per_poll_us", (s1.cpu_s - s0.cpu_s) * scale / polls * 1e6);
  report_double (&r, "server_cpu_per_poll_us",
                 ((s3.cpu_s - s2.cpu_s) - (s1.cpu_s - s0.cpu_s) * scale) / polls * 1e6);
  report_double (&r, "bytes_read_per_poll", (s3.bytes_sent - s2.bytes_sent) / polls);
  report_double (&r, "bytes_written_per_poll", (s3.bytes_received - s2.bytes_received) / polls);
  report_double (&r, "commands_per_poll", (s3.commands - s2.commands) / polls);
  report_int (&r, "switches", u3.switches - u2.switches);
  report_print (&r);

  for (int i = 0; i < o->vms; i++)
    {
      g_object_unref (vms[i].monitor);
      g_object_unref (vms[i].client);
    }
}

/* Liveness: what probing idle VMs costs */

static void
count_change (QmpClient *client,
              gboolean   responsive,
              gpointer   user_data)
{
  (*(guint *) user_data)++;
}

/* Idle for @seconds in the main loop: the CPU time and context switches
 * of this process, and what the server did. */
static void
idle_for (GMainLoop      *loop,
          QmpClient      *control,
          int             seconds,
          Usage          *u0,
          Usage          *u1,
          ServerCounters *s0,
          ServerCounters *s1)
{
  *s0 = server_counters (control);
  *u0 = usage_now ();
  g_timeout_add_seconds (seconds, quit_loop, loop);
  g_main_loop_run (loop);
  *u1 = usage_now ();
  *s1 = server_counters (control);
}

static void
bench_liveness (Options *o)
{
  g_autofree char *control_path = g_build_filename (o->dir, "control.sock", NULL);
  g_autoptr(QmpClient) control = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autofree QmpClient **clients = g_new0 (QmpClient *, o->vms);
  FleetRun connecting = { loop, o->vms, 0, 0, 0, FALSE };
  Report r = report_new ("liveness", "qmpthin");
  ServerCounters s0, s1, s2, s3;
  Usage u0, u1, u2, u3;
  double vm_seconds = (double) o->vms * o->idle, probes, off_us, on_us;
  guint n_changes = 0, n_responsive = 0;

  raise_nofile_limit ((guint64) o->vms + 64);
  control = client_connect (control_path);
  for (int i = 0; i < o->vms; i++)
    {
      g_autofree char *address = g_strdup_printf ("unix:%s/vm-%05d.sock", o->dir, i);

      clients[i] = qmp_client_new (address);
      g_signal_connect (clients[i], "responsive-changed", G_CALLBACK (count_change), &n_changes);
      qmp_client_connect_async (clients[i], NULL, on_vm_connected, &connecting);
    }
  g_main_loop_run (loop);
  n_changes = 0;
  g_timeout_add (500, quit_loop, loop);
  g_main_loop_run (loop);

  /* Off, then on: the same clients, as long each. */
  idle_for (loop, control, o->idle, &u0, &u1, &s0, &s1);
  for (int i = 0; i < o->vms; i++)
    qmp_client_set_liveness_interval (clients[i], o->interval);
  g_timeout_add ((guint) o->interval + 100, quit_loop, loop);
  g_main_loop_run (loop);
  idle_for (loop, control, o->idle, &u2, &u3, &s2, &s3);

  for (int i = 0; i < o->vms; i++)
    n_responsive += qmp_client_get_responsive (clients[i]);
  /* The server's counters count its own command too. */
  probes = (s3.commands - s2.commands) - 1;
  off_us = (u1.cpu_s - u0.cpu_s) / vm_seconds * 1e6;
  on_us = (u3.cpu_s - u2.cpu_s) / vm_seconds * 1e6;
  report_int (&r, "vms", o->vms);
  report_int (&r, "interval_ms", o->interval);
  report_int (&r, "idle_s", o->idle);
  report_double (&r, "off_cpu_s", u1.cpu_s - u0.cpu_s);
  report_double (&r, "on_cpu_s", u3.cpu_s - u2.cpu_s);
  report_double (&r, "off_cpu_per_vm_s_us", off_us);
  report_double (&r, "on_cpu_per_vm_s_us", on_us);
  report_double (&r, "ratio", off_us > 0 ? on_us / off_us : 0);
  report_double (&r, "probes", probes);
  report_double (&r, "probes_per_vm_s", probes / vm_seconds);
  report_double (&r, "cpu_per_probe_us", probes > 0 ? ((u3.cpu_s - u2.cpu_s) - (u1.cpu_s - u0.cpu_s)) / probes * 1e6 : 0);
  report_double (&r, "server_cpu_per_probe_us",
                 probes > 0 ? ((s3.cpu_s - s2.cpu_s) - (s1.cpu_s - s0.cpu_s)) / probes * 1e6 : 0);
  report_double (&r, "bytes_read_per_probe", probes > 0 ? (s3.bytes_sent - s2.bytes_sent) / probes : 0);
  report_int (&r, "off_switches", u1.switches - u0.switches);
  report_int (&r, "on_switches", u3.switches - u2.switches);
  report_int (&r, "responsive", n_responsive);
  report_int (&r, "responsive_changes", n_changes);
  report_print (&r);

  for (int i = 0; i < o->vms; i++)
    g_object_unref (clients[i]);
}

/* ------------------------------------------------------------------------ */
/* The floor: blocking or epoll reads, lines split by hand, each parsed */

typedef struct
{
  int fd;
  char *buffer;                 /* READ_SIZE bytes: [start, end) unread */
  gsize start;
  gsize end;
  gsize size;
  guint last_round;             /* floor-fleet */
  gboolean ready;               /* floor-fleet: negotiated */
} FloorConn;

#define FLOOR_READ_SIZE (64 * 1024)

static int
floor_socket (const char *path,
              gboolean    nonblocking)
{
  struct sockaddr_un addr = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  if (fd < 0)
    {
      g_printerr ("qmpthin-bench: socket: %s\n", g_strerror (errno));
      exit (1);
    }
  g_strlcpy (addr.sun_path, path, sizeof addr.sun_path);
  if (connect (fd, (struct sockaddr *) &addr, sizeof addr) < 0)
    {
      g_printerr ("qmpthin-bench: %s: %s\n", path, g_strerror (errno));
      exit (1);
    }
  if (nonblocking)
    g_unix_set_fd_nonblocking (fd, TRUE, NULL);
  return fd;
}

static FloorConn *
floor_conn_new (int fd,
                gsize size)
{
  FloorConn *conn = g_new0 (FloorConn, 1);

  conn->fd = fd;
  conn->size = size;
  conn->buffer = g_malloc (size);
  return conn;
}

static void
floor_conn_free (FloorConn *conn)
{
  close (conn->fd);
  g_free (conn->buffer);
  g_free (conn);
}

static void
floor_write (int         fd,
             const char *data,
             gsize       length)
{
  while (length > 0)
    {
      ssize_t n = write (fd, data, length);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          g_printerr ("qmpthin-bench: write: %s\n", g_strerror (errno));
          exit (1);
        }
      data += n;
      length -= n;
    }
}

/* The next complete line already buffered, parsed; NULL when there is
 * none (a partial line is moved to the front of the buffer). */
static JsonObject *
floor_next_buffered (FloorConn  *conn,
                     JsonParser *parser)
{
  g_autoptr(GError) error = NULL;
  char *line = conn->buffer + conn->start;
  char *nl = memchr (line, '\n', conn->end - conn->start);
  JsonNode *root;

  if (nl == NULL)
    {
      memmove (conn->buffer, line, conn->end - conn->start);
      conn->end -= conn->start;
      conn->start = 0;
      if (conn->end == conn->size)
        {
          /* Longer than the buffer: grow it. */
          conn->size *= 2;
          conn->buffer = g_realloc (conn->buffer, conn->size);
        }
      return NULL;
    }
  conn->start = nl + 1 - conn->buffer;
  if (!json_parser_load_from_data (parser, line, nl - line, &error) ||
      (root = json_parser_get_root (parser)) == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_printerr ("qmpthin-bench: bad line from the server: %s\n", error ? error->message : "not an object");
      exit (1);
    }
  return json_node_get_object (root);
}

/* Reads what the socket has into the buffer; FALSE when a non-blocking
 * socket had nothing. Exits on EOF. */
static gboolean
floor_fill (FloorConn *conn)
{
  ssize_t n;

  do
    n = read (conn->fd, conn->buffer + conn->end, conn->size - conn->end);
  while (n < 0 && errno == EINTR);
  if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
    return FALSE;
  if (n <= 0)
    {
      g_printerr ("qmpthin-bench: the server closed the connection\n");
      exit (1);
    }
  conn->end += n;
  return TRUE;
}

/* Blocking: the next line, parsed. */
static JsonObject *
floor_read (FloorConn  *conn,
            JsonParser *parser)
{
  JsonObject *object;

  while ((object = floor_next_buffered (conn, parser)) == NULL)
    floor_fill (conn);
  return object;
}

static gboolean
is_reply (JsonObject *object)
{
  return json_object_has_member (object, "return") || json_object_has_member (object, "error");
}

/* Reads until the reply (events before it are skipped); exits on an error. */
static JsonObject *
floor_read_reply (FloorConn  *conn,
                  JsonParser *parser)
{
  JsonObject *object;

  while (!is_reply (object = floor_read (conn, parser)))
    ;
  if (!json_object_has_member (object, "return"))
    {
      g_printerr ("qmpthin-bench: the server refused a command\n");
      exit (1);
    }
  return object;
}

static const char capabilities_command[] = "{\"execute\": \"qmp_capabilities\", \"id\": 0}\n";

static FloorConn *
floor_connect (const char *path,
               JsonParser *parser)
{
  FloorConn *conn = floor_conn_new (floor_socket (path, FALSE), FLOOR_READ_SIZE);

  if (!json_object_has_member (floor_read (conn, parser), "QMP"))
    {
      g_printerr ("qmpthin-bench: %s sent no QMP greeting\n", path);
      exit (1);
    }
  floor_write (conn->fd, capabilities_command, strlen (capabilities_command));
  floor_read_reply (conn, parser);
  return conn;
}

static void
floor_events (Options *o)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  FloorConn *conn = floor_connect (o->socket_path, parser);
  g_autofree char *command = g_strdup_printf ("{\"execute\": \"x-fake-blast\", \"arguments\": "
                                              "{\"count\": %d}, \"id\": 1}\n", o->count);
  Report r = report_new ("events", "floor");
  guint64 n_threshold = 0, n_io_error = 0;
  gboolean replied = FALSE;
  gint64 rss_before;
  Usage u0, u1;
  double t0, t1;

  rss_before = rss_kib ();
  u0 = usage_now ();
  t0 = now_s ();
  floor_write (conn->fd, command, strlen (command));
  while (!replied || n_threshold + n_io_error < (guint64) o->count)
    {
      JsonObject *object = floor_read (conn, parser);
      JsonNode *event = json_object_get_member (object, "event");
      const char *name = event != NULL ? json_node_get_string (event) : NULL;

      if (name == NULL)
        replied |= is_reply (object);
      else if (g_str_equal (name, "BLOCK_WRITE_THRESHOLD"))
        n_threshold++;
      else if (g_str_equal (name, "BLOCK_IO_ERROR"))
        n_io_error++;
    }
  t1 = now_s ();
  u1 = usage_now ();

  report_int (&r, "count", n_threshold + n_io_error);
  report_double (&r, "seconds", t1 - t0);
  report_double (&r, "events_per_s", (n_threshold + n_io_error) / (t1 - t0));
  report_int (&r, "rss_before_kib", rss_before);
  report_int (&r, "rss_peak_kib", status_kib ("VmHWM"));
  report_int (&r, "rss_after_kib", rss_kib ());
  report_double (&r, "cpu_s", u1.cpu_s - u0.cpu_s);
  report_print (&r);
  floor_conn_free (conn);
}

/* Writes query-status with the id seq into out. */
static void
floor_queue_query (GString *out,
                   guint    seq)
{
  g_string_append_printf (out, "{\"execute\": \"query-status\", \"id\": %u}\n", seq);
}

/* rtt is pipeline with a window of one. Commands are written in one write
 * per batch of replies read. */
static void
floor_commands (Options    *o,
                const char *bench,
                guint       window)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  FloorConn *conn = floor_connect (o->socket_path, parser);
  g_autofree double *latencies = g_new0 (double, o->count);
  g_autofree double *sent_at = g_new0 (double, o->count);
  g_autoptr(GString) out = g_string_new (NULL);
  Report r = report_new (bench, "floor");
  guint total = o->count, sent = 0, done = 0;
  gint64 rss_before;
  Usage u0, u1;
  double t0, t1;

  rss_before = rss_kib ();
  u0 = usage_now ();
  t0 = now_s ();
  while (sent < MIN (window, total))
    {
      sent_at[sent] = now_s ();
      floor_queue_query (out, sent++);
    }
  while (done < total)
    {
      JsonObject *object;

      if (out->len > 0)
        {
          floor_write (conn->fd, out->str, out->len);
          g_string_truncate (out, 0);
        }
      floor_fill (conn);
      while ((object = floor_next_buffered (conn, parser)) != NULL)
        {
          gint64 seq;

          if (!is_reply (object))
            continue;
          seq = json_object_get_int_member (object, "id");
          if (seq < 0 || seq >= (gint64) total || !json_object_has_member (object, "return"))
            {
              g_printerr ("qmpthin-bench: unexpected reply\n");
              exit (1);
            }
          latencies[seq] = now_s () - sent_at[seq];
          done++;
          if (sent < total)
            {
              sent_at[sent] = now_s ();
              floor_queue_query (out, sent++);
            }
        }
    }
  t1 = now_s ();
  u1 = usage_now ();

  if (window > 1)
    report_int (&r, "window", window);
  report_commands (&r, latencies, total, t1 - t0, rss_before, u0, u1);
  report_print (&r);
  floor_conn_free (conn);
}

/* Reads every readable connection of the set until done() says so or
 * timeout_s passes (< 0: no limit); on_line is called for every line. */
typedef gboolean (*FloorLineFunc) (FloorConn  *conn,
                                   JsonObject *object,
                                   gpointer    user_data);

static void
floor_poll (int            epoll_fd,
            JsonParser    *parser,
            FloorLineFunc  on_line,
            gpointer       user_data,
            gboolean      *done,
            double         timeout_s)
{
  struct epoll_event events[256];
  double deadline = timeout_s >= 0 ? now_s () + timeout_s : 0;

  while (!*done)
    {
      int wait_ms = timeout_s >= 0 ? MAX (0, (int) ((deadline - now_s ()) * 1000 + 0.5)) : -1;
      int n;

      if (timeout_s >= 0 && wait_ms == 0)
        break;
      n = epoll_wait (epoll_fd, events, G_N_ELEMENTS (events), wait_ms);
      if (n < 0 && errno == EINTR)
        continue;
      for (int i = 0; i < n; i++)
        {
          FloorConn *conn = events[i].data.ptr;
          JsonObject *object;

          while (floor_fill (conn))
            while ((object = floor_next_buffered (conn, parser)) != NULL)
              on_line (conn, object, user_data);
        }
    }
}

typedef struct
{
  guint n_vms;
  guint n_ready;
  guint round;
  guint n_reached;
  gboolean done;
} FloorFleet;

static gboolean
floor_fleet_line (FloorConn  *conn,
                  JsonObject *object,
                  gpointer    user_data)
{
  FloorFleet *fleet = user_data;

  if (!conn->ready)
    {
      if (json_object_has_member (object, "QMP"))
        floor_write (conn->fd, capabilities_command, strlen (capabilities_command));
      else if (json_object_has_member (object, "return"))
        {
          conn->ready = TRUE;
          fleet->done = ++fleet->n_ready == fleet->n_vms;
        }
      return TRUE;
    }
  if (json_object_has_member (object, "event") && conn->last_round != fleet->round)
    {
      conn->last_round = fleet->round;
      fleet->done = ++fleet->n_reached == fleet->n_vms;
    }
  return TRUE;
}

static void
floor_fleet (Options *o)
{
  g_autofree char *control_path = g_build_filename (o->dir, "control.sock", NULL);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autofree FloorConn **conns = g_new0 (FloorConn *, o->vms);
  g_autofree double *rounds_s = g_new0 (double, o->rounds);
  FloorConn *control;
  FloorFleet fleet = { o->vms, 0, 0, 0, FALSE };
  Report r = report_new ("fleet", "floor");
  gint64 rss_before, rss_after;
  Usage idle0, idle1;
  double t0, connect_s;
  int epoll_fd;

  raise_nofile_limit ((guint64) o->vms + 64);
  control = floor_connect (control_path, parser);
  epoll_fd = epoll_create1 (EPOLL_CLOEXEC);
  rss_before = rss_kib ();

  t0 = now_s ();
  for (int i = 0; i < o->vms; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/vm-%05d.sock", o->dir, i);
      struct epoll_event ev = { .events = EPOLLIN };

      /* What a fleet's connection reads is short: a small buffer, grown
       * for a longer line. */
      conns[i] = floor_conn_new (floor_socket (path, TRUE), 1024);
      ev.data.ptr = conns[i];
      epoll_ctl (epoll_fd, EPOLL_CTL_ADD, conns[i]->fd, &ev);
    }
  floor_poll (epoll_fd, parser, floor_fleet_line, &fleet, &fleet.done, -1);
  connect_s = now_s () - t0;
  rss_after = rss_kib ();

  for (int i = 0; i < o->rounds; i++)
    {
      static const char command[] = "{\"execute\": \"x-fake-broadcast\", \"arguments\": {\"count\": 1}, \"id\": 1}\n";

      fleet.round = i + 1;
      fleet.n_reached = 0;
      fleet.done = FALSE;
      t0 = now_s ();
      floor_write (control->fd, command, strlen (command));
      floor_poll (epoll_fd, parser, floor_fleet_line, &fleet, &fleet.done, -1);
      floor_read_reply (control, parser);
      rounds_s[i] = now_s () - t0;
    }

  idle0 = usage_now ();
  fleet.done = FALSE;
  floor_poll (epoll_fd, parser, floor_fleet_line, &fleet, &fleet.done, o->idle);
  idle1 = usage_now ();

  report_fleet (&r, o, connect_s, rss_before, rss_after, rounds_s, idle0, idle1);
  report_print (&r);

  for (int i = 0; i < o->vms; i++)
    floor_conn_free (conns[i]);
  floor_conn_free (control);
  close (epoll_fd);
}

/* ------------------------------------------------------------------------ */

static const char *const benches[] = {
  "events", "rtt", "pipeline", "fleet",
  "floor-events", "floor-rtt", "floor-pipeline", "floor-fleet",
  "poll", "liveness",
};

int
main (int    argc,
      char **argv)
{
  Options o = { NULL, NULL, 0, 64, 0, 20, 5, 2000, 5 };
  GOptionEntry entries[] = {
    { "socket", 0, 0, G_OPTION_ARG_FILENAME, &o.socket_path, "The server's socket (events, rtt, pipeline)", "PATH" },
    { "count", 0, 0, G_OPTION_ARG_INT, &o.count, "Events or commands", "N" },
    { "window", 0, 0, G_OPTION_ARG_INT, &o.window, "Commands in flight (pipeline; default 64)", "W" },
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &o.dir, "The fleet's directory (fleet)", "DIR" },
    { "vms", 0, 0, G_OPTION_ARG_INT, &o.vms, "Clients, one per VM socket (fleet)", "N" },
    { "rounds", 0, 0, G_OPTION_ARG_INT, &o.rounds, "Broadcasts (fleet; default 20)", "R" },
    { "idle", 0, 0, G_OPTION_ARG_INT, &o.idle, "Seconds of idle time measured (fleet, liveness; default 5)", "SECONDS" },
    { "interval", 0, 0, G_OPTION_ARG_INT, &o.interval, "Poll or liveness interval (poll, liveness; default 2000)", "MS" },
    { "ticks", 0, 0, G_OPTION_ARG_INT, &o.ticks, "Polls per monitor (poll; default 5)", "T" },
    { NULL }
  };
  g_autoptr(GOptionContext) context = g_option_context_new ("BENCH - libqmpthin against a bare C floor");
  g_autoptr(GError) error = NULL;
  const char *bench;
  gboolean floor, known = FALSE;

  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_summary (context, "BENCH: events, rtt, pipeline, fleet, or floor-… of each; poll; liveness");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("qmpthin-bench: %s\n", error->message);
      return 2;
    }
  if (argc != 2)
    {
      g_printerr ("qmpthin-bench: name one benchmark (see --help)\n");
      return 2;
    }
  bench = argv[1];
  for (guint i = 0; i < G_N_ELEMENTS (benches); i++)
    known |= g_str_equal (bench, benches[i]);
  floor = g_str_has_prefix (bench, "floor-");
  if (floor)
    bench += strlen ("floor-");
  if (!known ||
      (g_str_equal (bench, "fleet") ? (o.dir == NULL || o.vms < 1 || o.rounds < 1 || o.idle < 0) :
       g_str_equal (bench, "poll") ? (o.dir == NULL || o.vms < 1 || o.interval < 1 || o.ticks < 1) :
       g_str_equal (bench, "liveness") ? (o.dir == NULL || o.vms < 1 || o.interval < 1 || o.idle < 1) :
       (o.socket_path == NULL || o.count < 1 || o.window < 1)))
    {
      g_printerr ("qmpthin-bench: %s needs %s\n", argv[1],
                  !known ? "to be one of events, rtt, pipeline, fleet, floor-…, poll, liveness" :
                  g_str_equal (bench, "fleet") ? "--dir DIR --vms N (N, --rounds ≥ 1)" :
                  g_str_equal (bench, "poll") ? "--dir DIR --vms N (N, --interval, --ticks ≥ 1)" :
                  g_str_equal (bench, "liveness") ? "--dir DIR --vms N (N, --interval, --idle ≥ 1)" :
                  "--socket PATH --count N (≥ 1)");
      return 2;
    }

  if (g_str_equal (bench, "events"))
    floor ? floor_events (&o) : bench_events (&o);
  else if (g_str_equal (bench, "rtt"))
    floor ? floor_commands (&o, "rtt", 1) : bench_commands (&o, "rtt", 1);
  else if (g_str_equal (bench, "pipeline"))
    floor ? floor_commands (&o, "pipeline", o.window) : bench_commands (&o, "pipeline", o.window);
  else if (g_str_equal (bench, "poll"))
    bench_poll (&o);
  else if (g_str_equal (bench, "liveness"))
    bench_liveness (&o);
  else
    floor ? floor_fleet (&o) : bench_fleet (&o);

  g_free (o.socket_path);
  g_free (o.dir);
  return 0;
}
