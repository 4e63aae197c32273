/* test-thin-timing.c: the measured timing of extensions, the write rate
 * and adaptive sizing, against a scripted QEMU
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The scripted VM has one thin disk: data-fmt (qcow2) on data-lim (raw,
 * size=) on data-file, the node the monitor watches. Event timestamps are
 * scripted, so the write rate is exact.
 */

#include <qmpthin/qmpthin.h>

#include "qmp-fake-server.h"
#include "qmp-test-util.h"

#define WAIT_LIMIT_MS 10000
#define MiB (G_GUINT64_CONSTANT (1024) * 1024)

#define RUNNING "{\"return\": {\"status\": \"running\", \"running\": true}}"
#define PAUSED "{\"return\": {\"status\": \"paused\", \"running\": false}}"
#define IO_ERROR "{\"return\": {\"status\": \"io-error\", \"running\": false}}"
#define CONT_REPLY \
  "{\"timestamp\": {\"seconds\": 1795358841, \"microseconds\": 1}, \"event\": \"RESUME\"}\r\n" \
  "{\"return\": {}, \"id\": " QMP_FAKE_ID "}\r\n"

typedef struct {
  QmpFakeServer *server;
  QmpClient *client;
  QmpThinMonitor *monitor;
  QmpThinDisk *disk;
  guint n_needs;
  guint64 wanted;
  /* Adaptive sizing, checked against its rule whenever the monitor
   * chooses a size or a threshold. */
  guint n_checked;
  guint64 largest_step;         /* wanted − what the need covered */
  guint n_rates;                /* rates measured (notify::write-rate) */
} Fixture;

static void
set_allocation (Fixture *f,
                guint64  highest)
{
  g_autofree char *reply = g_strdup_printf (
    "{\"return\": ["
    "{\"node-name\": \"data-fmt\", \"stats\": {\"wr_highest_offset\": 100},"
    " \"parent\": {\"node-name\": \"data-lim\", \"stats\": {\"wr_highest_offset\": %" G_GUINT64_FORMAT "},"
    "  \"parent\": {\"node-name\": \"data-file\", \"stats\": {\"wr_highest_offset\": %" G_GUINT64_FORMAT "}}}},"
    "{\"node-name\": \"data-file\", \"stats\": {\"wr_highest_offset\": %" G_GUINT64_FORMAT "}}"
    "]}", highest, highest, highest);

  qmp_fake_server_set_reply (f->server, "query-blockstats", reply);
}

/* The rule of the reference manual: what the disk writes while an
 * extension runs (each phase's latency the larger of its last and mean
 * duration), twice (four times while the rate rests on one interval),
 * rounded up to a MiB; 0 while the rate or the back end's latency is
 * unknown. */
static guint64
expected_headroom (QmpThinDisk *disk)
{
  Fixture *f = g_object_get_data (G_OBJECT (disk), "fixture");
  double latency = 0;
  double bytes;

  if (qmp_thin_disk_get_write_rate (disk) == 0 ||
      qmp_thin_timing_get_count (qmp_thin_disk_get_timing (disk, QMP_THIN_PHASE_EXTEND)) == 0)
    return 0;
  for (QmpThinPhase phase = QMP_THIN_PHASE_NOTICE; phase <= QMP_THIN_PHASE_REARM; phase++)
    {
      QmpThinTiming *timing = qmp_thin_disk_get_timing (disk, phase);

      latency += MAX (qmp_thin_timing_get_last_usec (timing), qmp_thin_timing_get_mean_usec (timing));
    }
  bytes = (double) qmp_thin_disk_get_write_rate (disk) * latency / G_USEC_PER_SEC * (f->n_rates > 1 ? 2 : 4);
  return ((guint64) bytes + MiB - 1) / MiB * MiB;
}

static guint64
fixed_margin (QmpThinDisk *disk)
{
  return qmp_thin_disk_get_chunk_size (disk) * (100 - qmp_thin_disk_get_free_percent (disk)) / 100;
}

static void
on_extend_needed (QmpThinMonitor  *monitor,
                  QmpThinDisk     *disk,
                  guint64          wanted_size,
                  QmpExtendReason  reason,
                  gpointer         user_data)
{
  Fixture *f = user_data;
  guint64 base = MAX (qmp_thin_disk_get_physical_size (disk), qmp_thin_disk_get_highest_offset (disk));
  guint64 step = qmp_thin_disk_get_chunk_size (disk);
  guint64 expected;

  f->n_needs++;
  f->wanted = wanted_size;
  if (qmp_thin_disk_get_sizing (disk) == QMP_THIN_SIZING_ADAPTIVE)
    {
      guint64 headroom = expected_headroom (disk);

      /* The next threshold lies one headroom past the need. */
      step = MAX (step, MAX (fixed_margin (disk), headroom) + headroom);
      f->largest_step = MAX (f->largest_step, wanted_size - base);
      f->n_checked++;
    }
  expected = (base + step + MiB - 1) / MiB * MiB;
  if (qmp_thin_disk_get_maximum_size (disk) > 0)
    expected = MIN (expected, qmp_thin_disk_get_maximum_size (disk));
  g_assert_cmpuint (wanted_size, ==, expected);
}

static void
on_threshold (QmpThinDisk *disk,
              GParamSpec  *pspec,
              gpointer     user_data)
{
  Fixture *f = user_data;
  guint64 physical = qmp_thin_disk_get_physical_size (disk);
  guint64 margin = fixed_margin (disk);

  if (qmp_thin_disk_get_sizing (disk) == QMP_THIN_SIZING_ADAPTIVE)
    margin = MAX (margin, expected_headroom (disk));
  g_assert_cmpuint (qmp_thin_disk_get_threshold (disk), ==, margin >= physical ? 1 : physical - margin);
  f->n_checked++;
}

static void
on_write_rate (QmpThinDisk *disk,
               GParamSpec  *pspec,
               gpointer     user_data)
{
  ((Fixture *) user_data)->n_rates++;
}

static void
setup (Fixture       *f,
       gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->server = qmp_fake_server_new ();
  qmp_fake_server_set_reply (f->server, "query-status", RUNNING);
  qmp_fake_server_set_reply (f->server, "query-block", "{\"return\": []}");
  qmp_fake_server_set_reply (f->server, "block-set-write-threshold", "{\"return\": {}}");
  qmp_fake_server_set_raw_reply (f->server, "cont", CONT_REPLY);
  set_allocation (f, 0);
  f->client = qmp_client_new (qmp_fake_server_get_address (f->server));
  g_assert_true (qmp_client_connect_sync (f->client, NULL, &error));
  g_assert_no_error (error);
  f->monitor = qmp_thin_monitor_new (f->client);
  g_signal_connect (f->monitor, "extend-needed", G_CALLBACK (on_extend_needed), f);
}

static void
teardown (Fixture       *f,
          gconstpointer  data)
{
  g_clear_object (&f->monitor);
  g_clear_object (&f->client);
  qmp_fake_server_free (f->server);
}

static void
add_disk (Fixture       *f,
          guint64        physical_size,
          guint64        chunk_size,
          guint          free_percent,
          QmpThinSizing  sizing)
{
  f->disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", physical_size, chunk_size, free_percent);
  g_assert_nonnull (f->disk);
  qmp_thin_disk_set_sizing (f->disk, sizing);
  g_object_set_data (G_OBJECT (f->disk), "fixture", f);
  g_signal_connect (f->disk, "notify::write-rate", G_CALLBACK (on_write_rate), f);
  g_signal_connect (f->disk, "notify::threshold", G_CALLBACK (on_threshold), f);
  QMP_TEST_WAIT_FOR (qmp_thin_disk_get_state (f->disk) == QMP_THIN_DISK_STATE_ARMED, WAIT_LIMIT_MS);
}

/* QEMU's BLOCK_WRITE_THRESHOLD of the threshold armed now, the write
 * ending at @allocation, stamped @at; waits for the need. */
static void
cross (Fixture *f,
       gint64   at,
       guint64  allocation)
{
  guint64 threshold = qmp_thin_disk_get_threshold (f->disk);
  g_autofree char *data = g_strdup_printf ("{\"node-name\": \"data-file\", \"write-threshold\": %" G_GUINT64_FORMAT
                                           ", \"amount-exceeded\": %" G_GUINT64_FORMAT "}",
                                           threshold, allocation - threshold);
  guint n = f->n_needs;

  g_assert_cmpuint (allocation, >, threshold);
  set_allocation (f, allocation);
  qmp_fake_server_send_event_at (f->server, "BLOCK_WRITE_THRESHOLD", at, data);
  QMP_TEST_WAIT_FOR (f->n_needs == n + 1, WAIT_LIMIT_MS);
}

static void
extend (Fixture *f,
        guint64  size)
{
  qmp_thin_monitor_extended (f->monitor, "data-file", size);
  QMP_TEST_WAIT_FOR (qmp_thin_disk_get_state (f->disk) == QMP_THIN_DISK_STATE_ARMED, WAIT_LIMIT_MS);
}

static QmpThinTiming *
disk_timing (Fixture      *f,
             QmpThinPhase  phase)
{
  return qmp_thin_disk_get_timing (f->disk, phase);
}

static QmpThinTiming *
monitor_timing (Fixture      *f,
                QmpThinPhase  phase)
{
  return qmp_thin_monitor_get_timing (f->monitor, phase);
}

/* Each phase of an extension is timed, for the disk and for the monitor;
 * so is a pause for lack of space. */
static void
test_phases (Fixture       *f,
             gconstpointer  data)
{
  gint64 before;

  add_disk (f, 10 * MiB, 4 * MiB, 50, QMP_THIN_SIZING_FIXED);
  for (QmpThinPhase phase = QMP_THIN_PHASE_NOTICE; phase <= QMP_THIN_PHASE_PAUSE; phase++)
    {
      g_assert_cmpuint (qmp_thin_timing_get_count (disk_timing (f, phase)), ==, 0);
      g_assert_cmpint (qmp_thin_timing_get_mean_usec (disk_timing (f, phase)), ==, 0);
      g_assert_cmpuint (qmp_thin_timing_get_count (monitor_timing (f, phase)), ==, 0);
    }

  /* QEMU saw the threshold crossed 50 ms before the monitor hears of it. */
  before = g_get_monotonic_time ();
  cross (f, g_get_real_time () - 50000, 9 * MiB);
  g_assert_cmpuint (qmp_thin_timing_get_count (disk_timing (f, QMP_THIN_PHASE_NOTICE)), ==, 1);
  g_assert_cmpint (qmp_thin_timing_get_last_usec (disk_timing (f, QMP_THIN_PHASE_NOTICE)), >=, 50000);
  g_assert_cmpint (qmp_thin_timing_get_last_usec (disk_timing (f, QMP_THIN_PHASE_NOTICE)), <,
                   50000 + WAIT_LIMIT_MS * 1000);

  /* The back end takes 30 ms. */
  g_usleep (30000);
  extend (f, 15 * MiB);
  g_assert_cmpuint (qmp_thin_timing_get_count (disk_timing (f, QMP_THIN_PHASE_EXTEND)), ==, 1);
  g_assert_cmpint (qmp_thin_timing_get_last_usec (disk_timing (f, QMP_THIN_PHASE_EXTEND)), >=, 30000);
  g_assert_cmpint (qmp_thin_timing_get_last_usec (disk_timing (f, QMP_THIN_PHASE_EXTEND)), <=,
                   g_get_monotonic_time () - before);
  g_assert_cmpuint (qmp_thin_timing_get_count (disk_timing (f, QMP_THIN_PHASE_REARM)), ==, 1);
  g_assert_cmpint (qmp_thin_timing_get_last_usec (disk_timing (f, QMP_THIN_PHASE_REARM)), >, 0);

  /* The same in the monitor's, and nothing else. */
  for (QmpThinPhase phase = QMP_THIN_PHASE_NOTICE; phase <= QMP_THIN_PHASE_REARM; phase++)
    {
      QmpThinTiming *timing = monitor_timing (f, phase);

      g_assert_cmpuint (qmp_thin_timing_get_count (timing), ==, 1);
      g_assert_cmpint (qmp_thin_timing_get_last_usec (timing), ==,
                       qmp_thin_timing_get_last_usec (disk_timing (f, phase)));
      g_assert_cmpint (qmp_thin_timing_get_mean_usec (timing), ==, qmp_thin_timing_get_last_usec (timing));
      g_assert_cmpint (qmp_thin_timing_get_max_usec (timing), ==, qmp_thin_timing_get_last_usec (timing));
      g_assert_cmpint (qmp_thin_timing_get_total_usec (timing), ==, qmp_thin_timing_get_last_usec (timing));
    }
  g_assert_cmpuint (qmp_thin_timing_get_count (monitor_timing (f, QMP_THIN_PHASE_PAUSE)), ==, 0);

  /* The storage runs out (no threshold event: nothing to notice from),
   * the back end takes 20 ms, the monitor resumes the VM. */
  qmp_fake_server_set_reply (f->server, "query-status", IO_ERROR);
  set_allocation (f, 15 * MiB);
  qmp_fake_server_send_event (f->server, "BLOCK_IO_ERROR",
                              "{\"device\": \"\", \"nospace\": true, \"node-name\": \"data-fmt\","
                              " \"reason\": \"No space left on device\", \"operation\": \"write\","
                              " \"action\": \"stop\"}");
  qmp_fake_server_send_event (f->server, "STOP", NULL);
  QMP_TEST_WAIT_FOR (f->n_needs == 2, WAIT_LIMIT_MS);
  g_usleep (20000);
  qmp_fake_server_set_reply (f->server, "query-status", RUNNING);
  extend (f, 20 * MiB);
  QMP_TEST_WAIT_FOR (qmp_thin_monitor_get_n_resumes (f->monitor) == 1, WAIT_LIMIT_MS);
  QMP_TEST_WAIT_FOR (qmp_thin_timing_get_count (monitor_timing (f, QMP_THIN_PHASE_PAUSE)) == 1, WAIT_LIMIT_MS);
  g_assert_cmpint (qmp_thin_timing_get_last_usec (monitor_timing (f, QMP_THIN_PHASE_PAUSE)), >=, 20000);
  g_assert_cmpuint (qmp_thin_timing_get_count (disk_timing (f, QMP_THIN_PHASE_PAUSE)), ==, 1);
  g_assert_cmpint (qmp_thin_timing_get_last_usec (disk_timing (f, QMP_THIN_PHASE_PAUSE)), ==,
                   qmp_thin_timing_get_last_usec (monitor_timing (f, QMP_THIN_PHASE_PAUSE)));
  g_assert_cmpint (qmp_thin_timing_get_total_usec (monitor_timing (f, QMP_THIN_PHASE_PAUSE)), ==,
                   qmp_thin_monitor_get_nospace_paused_usec (f->monitor));
  g_assert_cmpuint (qmp_thin_timing_get_count (disk_timing (f, QMP_THIN_PHASE_NOTICE)), ==, 1);
  g_assert_cmpuint (qmp_thin_timing_get_count (disk_timing (f, QMP_THIN_PHASE_EXTEND)), ==, 2);
  g_assert_cmpuint (qmp_thin_timing_get_count (disk_timing (f, QMP_THIN_PHASE_REARM)), ==, 2);
  g_assert_cmpint (qmp_thin_timing_get_max_usec (disk_timing (f, QMP_THIN_PHASE_EXTEND)), >=, 30000);
  g_assert_cmpint (qmp_thin_timing_get_mean_usec (disk_timing (f, QMP_THIN_PHASE_EXTEND)), ==,
                   qmp_thin_timing_get_total_usec (disk_timing (f, QMP_THIN_PHASE_EXTEND)) / 2);
}

/* The rate from QEMU's timestamps of the crossings, without the time the
 * VM was paused (STOP to RESUME); faster at once, slower by halves. */
static void
test_write_rate (Fixture       *f,
                 gconstpointer  data)
{
  /* In the future: the notice phase counts as 0, nothing else cares. */
  gint64 t0 = g_get_real_time () + G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC;
  guint64 first;

  add_disk (f, 10 * MiB, 4 * MiB, 50, QMP_THIN_SIZING_FIXED);
  g_assert_cmpuint (qmp_thin_disk_get_write_rate (f->disk), ==, 0);
  cross (f, t0, 9 * MiB);
  g_assert_cmpuint (qmp_thin_disk_get_write_rate (f->disk), ==, 0);
  extend (f, 20 * MiB);

  /* A user's pause of 250 ms: the guest wrote 10 MiB in 750 ms. */
  qmp_fake_server_set_reply (f->server, "query-status", PAUSED);
  qmp_fake_server_send_event_at (f->server, "STOP", t0 + 500000, NULL);
  QMP_TEST_WAIT_FOR (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f->client)) == QMP_STOP_KIND_PAUSED_BY_USER,
                     WAIT_LIMIT_MS);
  qmp_fake_server_set_reply (f->server, "query-status", RUNNING);
  qmp_fake_server_send_event_at (f->server, "RESUME", t0 + 750000, NULL);
  QMP_TEST_WAIT_FOR (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f->client)) == QMP_STOP_KIND_RUNNING,
                     WAIT_LIMIT_MS);
  cross (f, t0 + 1000000, 19 * MiB);
  first = 10 * MiB * G_USEC_PER_SEC / 750000;
  g_assert_cmpuint (qmp_thin_disk_get_write_rate (f->disk), ==, first);

  /* Slower: 10 MiB in a second. */
  extend (f, 30 * MiB);
  cross (f, t0 + 2000000, 29 * MiB);
  g_assert_cmpuint (qmp_thin_disk_get_write_rate (f->disk), ==, first / 2 + 10 * MiB / 2);

  /* Faster: 10 MiB in 100 ms. */
  extend (f, 40 * MiB);
  cross (f, t0 + 2100000, 39 * MiB);
  g_assert_cmpuint (qmp_thin_disk_get_write_rate (f->disk), ==, 100 * MiB);

  /* Fixed sizing ignores it: vdsm's threshold, one chunk per need. */
  g_assert_cmpuint (f->wanted, ==, 44 * MiB);
  extend (f, 44 * MiB);
  g_assert_cmpuint (qmp_thin_disk_get_threshold (f->disk), ==, 42 * MiB);
}

/* Adaptive sizing: the fixed rule until the rate and the back end's
 * latency are known, then room at the threshold and a step of twice what
 * the disk writes while an extension runs; never below the fixed rule,
 * capped at the maximum size. */
static void
test_adaptive (Fixture       *f,
               gconstpointer  data)
{
  gint64 t0 = g_get_real_time () + G_GINT64_CONSTANT (3600) * G_USEC_PER_SEC;
  guint64 threshold;

  add_disk (f, 10 * MiB, 2 * MiB, 20, QMP_THIN_SIZING_ADAPTIVE);
  g_assert_cmpuint (qmp_thin_disk_get_threshold (f->disk), ==,
                    qmp_thin_compute_threshold (10 * MiB, 2 * MiB, 20));

  /* Nothing measured yet: one chunk. */
  cross (f, t0, 9 * MiB);
  g_assert_cmpuint (f->wanted, ==, 12 * MiB);
  /* A back end of 200 ms. */
  g_usleep (200000);
  extend (f, 12 * MiB);
  g_assert_cmpuint (qmp_thin_disk_get_threshold (f->disk), ==,
                    qmp_thin_compute_threshold (12 * MiB, 2 * MiB, 20));

  /* 10 MiB/s: about 4 MiB written while an extension runs, twice. */
  cross (f, t0 + 500000, 14 * MiB);
  g_assert_cmpuint (qmp_thin_disk_get_write_rate (f->disk), ==, 10 * MiB);
  g_assert_cmpuint (expected_headroom (f->disk), >=, 4 * MiB);
  g_assert_cmpuint (f->largest_step, >=, 8 * MiB);
  g_usleep (200000);
  extend (f, f->wanted);
  threshold = qmp_thin_disk_get_threshold (f->disk);
  g_assert_cmpuint (qmp_thin_disk_get_physical_size (f->disk) - threshold, >=, 4 * MiB);

  /* Capped at the maximum size. */
  qmp_thin_disk_set_maximum_size (f->disk, qmp_thin_disk_get_physical_size (f->disk) + MiB);
  cross (f, t0 + 600000, threshold + MiB);
  g_assert_cmpuint (f->wanted, ==, qmp_thin_disk_get_maximum_size (f->disk));

  /* Back to fixed: vdsm's rule from the next arming on. */
  qmp_thin_disk_set_sizing (f->disk, QMP_THIN_SIZING_FIXED);
  extend (f, f->wanted - MiB / 2);
  g_assert_cmpuint (qmp_thin_disk_get_threshold (f->disk), ==,
                    qmp_thin_compute_threshold (f->wanted - MiB / 2, 2 * MiB, 20));
  /* Every threshold and size chosen was checked against the rule. */
  g_assert_cmpuint (f->n_checked, ==, 6);
}

/* The first rate is known at the check that follows the first extension
 * (the allocation then, against the crossing's): the threshold armed
 * without it is lowered at once, or, when the guest already wrote past
 * where the rate puts it, the next extension is asked for at once; not
 * at the next crossing, when the room the fixed rule left may be gone.
 * The guest writes 1.5 MiB while the back end works: room for four
 * times that (a rate measured over one interval) is 6 MiB at least,
 * whatever the speed of the machine (a slower one measures a lower rate
 * over a longer extension). */
static void
test_first_rate (Fixture       *f,
                 gconstpointer  data)
{
  gboolean far = GPOINTER_TO_INT (data);
  guint64 size = far ? 64 * MiB : 12 * MiB;

  add_disk (f, 10 * MiB, 2 * MiB, 20, QMP_THIN_SIZING_ADAPTIVE);
  cross (f, g_get_real_time (), 9 * MiB);
  g_assert_cmpuint (qmp_thin_disk_get_write_rate (f->disk), ==, 0);
  set_allocation (f, 9 * MiB + 3 * MiB / 2);
  g_usleep (200000);
  qmp_thin_monitor_extended (f->monitor, "data-file", size);
  if (far)
    {
      /* Armed twice: by the fixed rule, then by the rate. */
      QMP_TEST_WAIT_FOR (qmp_thin_disk_get_write_rate (f->disk) > 0 &&
                         qmp_thin_disk_get_threshold (f->disk) <= size - 6 * MiB, WAIT_LIMIT_MS);
      QMP_TEST_WAIT_FOR (qmp_thin_disk_get_state (f->disk) == QMP_THIN_DISK_STATE_ARMED, WAIT_LIMIT_MS);
      g_assert_cmpuint (f->n_needs, ==, 1);
      /* The need, and both thresholds, each by the rule. */
      g_assert_cmpuint (f->n_checked, ==, 3);
    }
  else
    {
      /* The guest is already past: 12 MiB less 6 MiB at least. */
      QMP_TEST_WAIT_FOR (f->n_needs == 2, WAIT_LIMIT_MS);
      g_assert_cmpuint (qmp_thin_disk_get_state (f->disk), ==, QMP_THIN_DISK_STATE_EXCEEDED);
      g_assert_cmpuint (qmp_thin_disk_get_threshold (f->disk), <=, 6 * MiB);
      g_assert_cmpuint (f->wanted, >=, 9 * MiB + 3 * MiB / 2 + 12 * MiB);
    }
  g_assert_cmpuint (qmp_thin_disk_get_write_rate (f->disk), >, 0);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add ("/qmp/thin-timing/" path, Fixture, NULL, setup, func, teardown)
  ADD ("phases", test_phases);
  ADD ("write-rate", test_write_rate);
  ADD ("adaptive", test_adaptive);
#undef ADD
  g_test_add ("/qmp/thin-timing/first-rate/rearm", Fixture, GINT_TO_POINTER (TRUE), setup, test_first_rate, teardown);
  g_test_add ("/qmp/thin-timing/first-rate/ask", Fixture, GINT_TO_POINTER (FALSE), setup, test_first_rate, teardown);

  return g_test_run ();
}
