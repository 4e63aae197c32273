/* test-thin-monitor.c: the high-water-mark policy against a scripted QEMU
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The scripted VM has one thin disk: data-fmt (qcow2) on data-lim (raw,
 * size=) on data-file, the node the monitor watches.
 */

#include <string.h>

#include <qmpthin/qmpthin.h>

#include "qmp-fake-server.h"
#include "qmp-test-util.h"

#define WAIT_LIMIT_MS 10000
#define MiB (G_GUINT64_CONSTANT (1024) * 1024)

#define RUNNING "{\"return\": {\"status\": \"running\", \"running\": true}}"
#define IO_ERROR "{\"return\": {\"status\": \"io-error\", \"running\": false}}"

/* QEMU sends RESUME before the reply to cont, and STOP before the reply
 * to stop (of a running VM). */
#define CONT_REPLY \
  "{\"timestamp\": {\"seconds\": 1795358841, \"microseconds\": 1}, \"event\": \"RESUME\"}\r\n" \
  "{\"return\": {}, \"id\": " QMP_FAKE_ID "}\r\n"
#define STOP_REPLY \
  "{\"timestamp\": {\"seconds\": 1795358842, \"microseconds\": 1}, \"event\": \"STOP\"}\r\n" \
  "{\"return\": {}, \"id\": " QMP_FAKE_ID "}\r\n"

typedef struct {
  QmpFakeServer *server;
  QmpClient *client;
  QmpThinMonitor *monitor;
  GPtrArray *log;               /* "extend NODE REASON WANTED", "error NODE" */
  /* What the extend-needed handler does: 0 nothing, else extend at once
   * to this size. */
  guint64 extend_in_handler;
} Fixture;

static const char *
nick (GType type,
      int   value)
{
  g_autoptr(GEnumClass) klass = g_type_class_ref (type);

  return g_enum_get_value (klass, value)->value_nick;
}

static void
on_extend_needed (QmpThinMonitor  *monitor,
                  QmpThinDisk     *disk,
                  guint64          wanted_size,
                  QmpExtendReason  reason,
                  gpointer         user_data)
{
  Fixture *f = user_data;

  g_assert_cmpint (qmp_thin_disk_get_state (disk), ==, QMP_THIN_DISK_STATE_EXCEEDED);
  g_assert_cmpuint (qmp_thin_disk_get_wanted_size (disk), ==, wanted_size);
  g_ptr_array_add (f->log, g_strdup_printf ("extend %s %s %" G_GUINT64_FORMAT,
                                            qmp_thin_disk_get_node_name (disk),
                                            nick (QMP_TYPE_EXTEND_REASON, reason), wanted_size / MiB));
  if (f->extend_in_handler > 0)
    qmp_thin_monitor_extended (monitor, qmp_thin_disk_get_node_name (disk), f->extend_in_handler);
}

static void
on_error (QmpThinMonitor *monitor,
          QmpThinDisk    *disk,
          GError         *error,
          gpointer        user_data)
{
  Fixture *f = user_data;

  if (g_error_matches (error, QMP_ERROR, QMP_ERROR_MAXIMUM_SIZE))
    g_assert_nonnull (strstr (error->message, "maximum size"));
  g_ptr_array_add (f->log, g_strdup_printf ("%s %s",
                                            g_error_matches (error, QMP_ERROR, QMP_ERROR_IMPROBABLE_ALLOCATION) ?
                                            "improbable" : "error",
                                            disk ? qmp_thin_disk_get_node_name (disk) : "vm"));
}

static void
on_disk_moved (QmpThinMonitor *monitor,
               QmpThinDisk    *disk,
               const char     *previous,
               gpointer        user_data)
{
  Fixture *f = user_data;

  g_assert_cmpstr (previous, !=, qmp_thin_disk_get_node_name (disk));
  g_ptr_array_add (f->log, g_strdup_printf ("moved %s %s", previous, qmp_thin_disk_get_node_name (disk)));
}

static void
on_replica (QmpThinMonitor *monitor,
            QmpThinDisk    *replica,
            gpointer        user_data)
{
  Fixture *f = user_data;
  gboolean added = qmp_thin_monitor_get_disk (monitor, qmp_thin_disk_get_node_name (replica)) == replica;

  g_assert_nonnull (qmp_thin_disk_get_replica_of (replica));
  g_ptr_array_add (f->log, g_strdup_printf ("%s %s %s of %s", added ? "replica" : "replica-removed",
                                            qmp_thin_disk_get_node_name (replica),
                                            qmp_thin_disk_get_job (replica),
                                            qmp_thin_disk_get_node_name (qmp_thin_disk_get_replica_of (replica))));
}

static void
on_paused_too_long (QmpThinMonitor *monitor,
                    QmpStopReason  *reason,
                    gpointer        user_data)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->log, g_strdup_printf ("too-long %s",
                                            nick (QMP_TYPE_STOP_KIND, qmp_stop_reason_get_kind (reason))));
}

/* query-blockstats of the scripted VM, data-file allocated to @highest. */
static void
set_allocation (Fixture *f,
                guint64  highest)
{
  g_autofree char *reply = g_strdup_printf (
    "{\"return\": ["
    "{\"node-name\": \"data-fmt\", \"stats\": {\"wr_highest_offset\": 100},"
    " \"parent\": {\"node-name\": \"data-lim\", \"stats\": {\"wr_highest_offset\": %" G_GUINT64_FORMAT "},"
    "  \"parent\": {\"node-name\": \"data-file\", \"stats\": {\"wr_highest_offset\": %" G_GUINT64_FORMAT "}}}},"
    "{\"node-name\": \"data-lim\", \"stats\": {\"wr_highest_offset\": %" G_GUINT64_FORMAT "},"
    " \"parent\": {\"node-name\": \"data-file\", \"stats\": {\"wr_highest_offset\": %" G_GUINT64_FORMAT "}}},"
    "{\"node-name\": \"data-file\", \"stats\": {\"wr_highest_offset\": %" G_GUINT64_FORMAT "}},"
    "{\"node-name\": \"other-fmt\", \"stats\": {\"wr_highest_offset\": 0},"
    " \"parent\": {\"node-name\": \"other-file\", \"stats\": {\"wr_highest_offset\": 0}}}"
    "]}", highest, highest, highest, highest, highest);

  qmp_fake_server_set_reply (f->server, "query-blockstats", reply);
}

static void
setup (Fixture       *f,
       gconstpointer  data)
{
  f->server = qmp_fake_server_new ();
  qmp_fake_server_set_reply (f->server, "query-status", RUNNING);
  qmp_fake_server_set_reply (f->server, "block-set-write-threshold", "{\"return\": {}}");
  qmp_fake_server_set_raw_reply (f->server, "stop", STOP_REPLY);
  qmp_fake_server_set_raw_reply (f->server, "cont", CONT_REPLY);
  set_allocation (f, 0);
  f->client = qmp_client_new (qmp_fake_server_get_address (f->server));
  f->log = g_ptr_array_new_with_free_func (g_free);
}

static void
connect_and_monitor (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (qmp_client_connect_sync (f->client, NULL, &error));
  g_assert_no_error (error);
  f->monitor = qmp_thin_monitor_new (f->client);
  g_signal_connect (f->monitor, "extend-needed", G_CALLBACK (on_extend_needed), f);
  g_signal_connect (f->monitor, "error", G_CALLBACK (on_error), f);
  g_signal_connect (f->monitor, "disk-moved", G_CALLBACK (on_disk_moved), f);
  g_signal_connect (f->monitor, "replica-added", G_CALLBACK (on_replica), f);
  g_signal_connect (f->monitor, "replica-removed", G_CALLBACK (on_replica), f);
  g_signal_connect (f->monitor, "paused-too-long", G_CALLBACK (on_paused_too_long), f);
}

static void
teardown (Fixture       *f,
          gconstpointer  data)
{
  g_clear_object (&f->monitor);
  g_clear_object (&f->client);
  qmp_fake_server_free (f->server);
  g_ptr_array_unref (f->log);
}

static void
drain (void)
{
  /* Whatever is still on its way: the fake server answers in well under
   * this, and events come with the replies. */
  gint64 end = g_get_monotonic_time () + 100 * 1000;

  while (g_get_monotonic_time () < end)
    {
      while (g_main_context_iteration (NULL, FALSE))
        ;
      g_usleep (2000);
    }
}

/* The log is @expected, and stays so. */
static void
assert_log (Fixture            *f,
            const char * const *expected)
{
  guint n = g_strv_length ((char **) expected);

  QMP_TEST_WAIT_FOR (f->log->len >= n, WAIT_LIMIT_MS);
  drain ();
  for (guint i = 0; i < f->log->len; i++)
    if (i >= n || g_strcmp0 (f->log->pdata[i], expected[i]) != 0)
      {
        for (guint j = 0; j < f->log->len; j++)
          g_test_message ("log: %s", (const char *) f->log->pdata[j]);
        g_assert_cmpstr (f->log->pdata[i], ==, i < n ? expected[i] : NULL);
      }
  g_assert_cmpuint (f->log->len, ==, n);
}

/* Requests received so far named @command (the others are dropped),
 * each as its arguments' JSON text. */
static GPtrArray *
take_requests (Fixture    *f,
               const char *command)
{
  GPtrArray *found = g_ptr_array_new_with_free_func (g_free);
  JsonObject *request;

  drain ();
  while ((request = qmp_fake_server_pop_request (f->server, 0)) != NULL)
    {
      if (g_str_equal (json_object_get_string_member (request, "execute"), command))
        {
          g_autoptr(JsonNode) node = json_node_new (JSON_NODE_OBJECT);

          if (json_object_has_member (request, "arguments"))
            json_node_set_object (node, json_object_get_object_member (request, "arguments"));
          else
            json_node_take_object (node, json_object_new ());
          g_ptr_array_add (found, json_to_string (node, FALSE));
        }
      json_object_unref (request);
    }
  return found;
}

static void
wait_state (QmpThinDisk      *disk,
            QmpThinDiskState  state)
{
  QMP_TEST_WAIT_FOR (qmp_thin_disk_get_state (disk) == state, WAIT_LIMIT_MS);
}

/* The VM pauses with data-file allocated to @allocation: QEMU's ENOSPC at
 * the end of the storage. */
static void
send_nospace (Fixture *f,
              gint64   timestamp_usec,
              guint64  allocation)
{
  set_allocation (f, allocation);
  qmp_fake_server_send_event_at (f->server, "BLOCK_IO_ERROR", timestamp_usec,
                                 "{\"device\": \"\", \"nospace\": true, \"node-name\": \"data-fmt\","
                                 " \"reason\": \"No space left on device\", \"operation\": \"write\","
                                 " \"action\": \"stop\"}");
  qmp_fake_server_send_event_at (f->server, "STOP", timestamp_usec, NULL);
}

static void
test_compute (void)
{
  /* vdsm's rule. */
  g_assert_cmpuint (qmp_thin_compute_threshold (10 * MiB, 4 * MiB, 50), ==, 8 * MiB);
  g_assert_cmpuint (qmp_thin_compute_threshold (10 * MiB, 4 * MiB, 100), ==, 10 * MiB);
  g_assert_cmpuint (qmp_thin_compute_threshold (10 * MiB, 4 * MiB, 0), ==, 6 * MiB);
  g_assert_cmpuint (qmp_thin_compute_threshold (G_GUINT64_CONSTANT (5120) * MiB, QMP_THIN_DEFAULT_CHUNK_SIZE,
                                                QMP_THIN_DEFAULT_FREE_PERCENT),
                    ==, G_GUINT64_CONSTANT (3072) * MiB);
  /* Storage smaller than the margin: the first write asks for more. */
  g_assert_cmpuint (qmp_thin_compute_threshold (2 * MiB, 8 * MiB, 20), ==, 1);
  /* No overflow with huge values. */
  g_assert_cmpuint (qmp_thin_compute_threshold (G_MAXUINT64, G_MAXUINT64 / 2, 0), ==, G_MAXUINT64 - G_MAXUINT64 / 2);
  g_assert_cmpuint (qmp_thin_compute_threshold (0, MiB, 20), ==, 0);
}

/* Armed at vdsm's threshold; crossed: asked once; duplicates coalesced;
 * extended: armed higher. */
static void
test_threshold_cycle (Fixture       *f,
                      gconstpointer  data)
{
  const char *expected[] = { "extend data-file threshold 14", NULL };
  g_autoptr(GPtrArray) armed = NULL;
  QmpThinDisk *disk;

  connect_and_monitor (f);
  disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", 10 * MiB, 4 * MiB, 50);
  g_assert_nonnull (disk);
  g_assert_null (qmp_thin_monitor_add_disk (f->monitor, "data-file", 10 * MiB, 4 * MiB, 50));
  g_assert_true (qmp_thin_monitor_get_disk (f->monitor, "data-file") == disk);
  g_assert_cmpint (qmp_thin_disk_get_state (disk), ==, QMP_THIN_DISK_STATE_UNSET);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);
  g_assert_cmpuint (qmp_thin_disk_get_threshold (disk), ==, 8 * MiB);
  armed = take_requests (f, "block-set-write-threshold");
  g_assert_cmpuint (armed->len, ==, 1);
  g_assert_cmpstr (armed->pdata[0], ==, "{\"node-name\":\"data-file\",\"write-threshold\":8388608}");

  /* A write ending 2 MiB past it, at 10 MiB: wanted = 10 MiB + one chunk. */
  qmp_fake_server_send_event (f->server, "BLOCK_WRITE_THRESHOLD",
                              "{\"node-name\": \"data-file\", \"write-threshold\": 8388608, \"amount-exceeded\": 2097152}");
  wait_state (disk, QMP_THIN_DISK_STATE_EXCEEDED);
  g_assert_cmpuint (qmp_thin_disk_get_highest_offset (disk), ==, 10 * MiB);
  /* The same again, and the pause it leads to: no new signal. */
  qmp_fake_server_send_event (f->server, "BLOCK_WRITE_THRESHOLD",
                              "{\"node-name\": \"data-file\", \"write-threshold\": 8388608, \"amount-exceeded\": 1}");
  qmp_fake_server_set_reply (f->server, "query-status", IO_ERROR);
  send_nospace (f, g_get_real_time (), 10 * MiB);
  assert_log (f, expected);
  g_assert_cmpuint (qmp_thin_disk_get_wanted_size (disk), ==, 14 * MiB);
  g_assert_cmpuint (qmp_thin_monitor_get_n_nospace_pauses (f->monitor), ==, 1);

  /* Extended (later, not from the handler): armed at 15 - 2 MiB, resumed. */
  qmp_thin_monitor_extended (f->monitor, "data-file", 15 * MiB);
  g_assert_cmpint (qmp_thin_disk_get_state (disk), ==, QMP_THIN_DISK_STATE_EXTENDING);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);
  QMP_TEST_WAIT_FOR (qmp_thin_monitor_get_n_resumes (f->monitor) == 1, WAIT_LIMIT_MS);
  g_assert_cmpuint (qmp_thin_disk_get_threshold (disk), ==, 13 * MiB);
  g_assert_cmpuint (qmp_thin_disk_get_physical_size (disk), ==, 15 * MiB);
  g_assert_cmpuint (qmp_thin_disk_get_n_extensions (disk), ==, 1);
  QMP_TEST_WAIT_FOR (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f->client)) == QMP_STOP_KIND_RUNNING,
                     WAIT_LIMIT_MS);
  g_assert_cmpint (qmp_thin_monitor_get_nospace_paused_usec (f->monitor), >, 0);
  {
    gint64 paused = qmp_thin_monitor_get_nospace_paused_usec (f->monitor);

    drain ();
    /* Not paused any more: the total stays. */
    g_assert_cmpint (qmp_thin_monitor_get_nospace_paused_usec (f->monitor), ==, paused);
  }

  /* The old threshold's event, late: ignored. */
  qmp_fake_server_send_event (f->server, "BLOCK_WRITE_THRESHOLD",
                              "{\"node-name\": \"data-file\", \"write-threshold\": 8388608, \"amount-exceeded\": 1}");
  assert_log (f, expected);
  g_assert_cmpint (qmp_thin_disk_get_state (disk), ==, QMP_THIN_DISK_STATE_ARMED);
}

/* The allocation is past the threshold when it is armed: asked at once. */
static void
test_already_exceeded (Fixture       *f,
                       gconstpointer  data)
{
  const char *expected[] = { "extend data-file threshold 14", NULL };
  QmpThinDisk *disk;

  set_allocation (f, 9 * MiB + 1);
  connect_and_monitor (f);
  disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", 10 * MiB, 4 * MiB, 50);
  assert_log (f, expected);
  g_assert_cmpuint (qmp_thin_disk_get_highest_offset (disk), ==, 9 * MiB + 1);

  /* Extended too little: still short, asked again. */
  qmp_thin_monitor_extended (f->monitor, "data-file", 11 * MiB);
  {
    const char *again[] = { "extend data-file threshold 14", "extend data-file threshold 15", NULL };

    assert_log (f, again);
  }
  g_assert_cmpint (qmp_thin_disk_get_state (disk), ==, QMP_THIN_DISK_STATE_EXCEEDED);
}

/* Out of space: asked with NOSPACE, extended from the handler, resumed
 * once. The retried write did not fit (the allocation did not move):
 * paused again at the size it was resumed at, it is asked again, whatever
 * the allocation says. */
static void
test_nospace_sync_extension (Fixture       *f,
                             gconstpointer  data)
{
  const char *expected[] = { "extend data-file nospace 16", NULL };
  const char *again[] = { "extend data-file nospace 16", "extend data-file nospace 20", NULL };
  g_autoptr(GPtrArray) conts = NULL;
  QmpThinDisk *disk;

  connect_and_monitor (f);
  disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", 12 * MiB, 4 * MiB, 50);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);

  f->extend_in_handler = 16 * MiB;
  qmp_fake_server_set_reply (f->server, "query-status", IO_ERROR);
  send_nospace (f, g_get_real_time (), 12 * MiB);
  assert_log (f, expected);
  QMP_TEST_WAIT_FOR (qmp_thin_monitor_get_n_resumes (f->monitor) == 1, WAIT_LIMIT_MS);
  conts = take_requests (f, "cont");
  g_assert_cmpuint (conts->len, ==, 1);
  g_assert_cmpint (qmp_thin_disk_get_state (disk), ==, QMP_THIN_DISK_STATE_ARMED);
  g_assert_cmpuint (qmp_thin_disk_get_threshold (disk), ==, 14 * MiB);

  f->extend_in_handler = 0;
  send_nospace (f, g_get_real_time (), 12 * MiB);
  assert_log (f, again);
  g_assert_cmpuint (qmp_thin_monitor_get_n_nospace_pauses (f->monitor), ==, 2);
  g_clear_pointer (&conts, g_ptr_array_unref);
  conts = take_requests (f, "cont");
  g_assert_cmpuint (conts->len, ==, 0);
}

/* An ENOSPC QEMU sent before the extension landed asks for nothing: the
 * VM is resumed and the retried write tells. */
static void
test_stale_nospace (Fixture       *f,
                    gconstpointer  data)
{
  const char *expected[] = { "extend data-file threshold 14", NULL };
  gint64 before;
  QmpThinDisk *disk;

  connect_and_monitor (f);
  disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", 10 * MiB, 4 * MiB, 50);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);
  qmp_fake_server_send_event (f->server, "BLOCK_WRITE_THRESHOLD",
                              "{\"node-name\": \"data-file\", \"write-threshold\": 8388608, \"amount-exceeded\": 2097152}");
  wait_state (disk, QMP_THIN_DISK_STATE_EXCEEDED);
  before = g_get_real_time ();
  g_usleep (1000);
  qmp_thin_monitor_extended (f->monitor, "data-file", 15 * MiB);
  qmp_fake_server_set_reply (f->server, "query-status", IO_ERROR);
  send_nospace (f, before, 10 * MiB);
  QMP_TEST_WAIT_FOR (qmp_thin_monitor_get_n_resumes (f->monitor) == 1, WAIT_LIMIT_MS);
  assert_log (f, expected);
}

/* Paused by the user, or for a disk the monitor does not watch: never
 * resumed. */
static void
test_no_cont_for_others (Fixture       *f,
                         gconstpointer  data)
{
  const char *expected[] = { "extend data-file threshold 14", NULL };
  g_autoptr(GPtrArray) conts = NULL;
  g_autoptr(GError) error = NULL;
  QmpThinDisk *disk;

  connect_and_monitor (f);
  disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", 10 * MiB, 4 * MiB, 50);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);

  /* The user pauses while an extension runs. */
  qmp_fake_server_send_event (f->server, "BLOCK_WRITE_THRESHOLD",
                              "{\"node-name\": \"data-file\", \"write-threshold\": 8388608, \"amount-exceeded\": 2097152}");
  wait_state (disk, QMP_THIN_DISK_STATE_EXCEEDED);
  g_assert_true (qmp_client_stop_sync (f->client, NULL, &error));
  QMP_TEST_WAIT_FOR (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f->client)) ==
                     QMP_STOP_KIND_PAUSED_BY_USER, WAIT_LIMIT_MS);
  qmp_thin_monitor_extended (f->monitor, "data-file", 15 * MiB);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);
  conts = take_requests (f, "cont");
  g_assert_cmpuint (conts->len, ==, 0);

  /* Another disk runs out: not this monitor's to resume. */
  qmp_fake_server_send_event (f->server, "RESUME", NULL);
  qmp_fake_server_send_event (f->server, "BLOCK_IO_ERROR",
                              "{\"device\": \"\", \"nospace\": true, \"node-name\": \"other-fmt\","
                              " \"reason\": \"No space left on device\", \"operation\": \"write\", \"action\": \"stop\"}");
  qmp_fake_server_send_event (f->server, "STOP", NULL);
  QMP_TEST_WAIT_FOR (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f->client)) == QMP_STOP_KIND_NOSPACE,
                     WAIT_LIMIT_MS);
  qmp_thin_monitor_extended (f->monitor, "data-file", 16 * MiB);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);
  g_clear_pointer (&conts, g_ptr_array_unref);
  conts = take_requests (f, "cont");
  g_assert_cmpuint (conts->len, ==, 0);
  assert_log (f, expected);
}

/* A failed extension: EXCEEDED, an error, no cont; asked again by the next
 * pause; a later extension resumes. */
static void
test_extend_failed (Fixture       *f,
                    gconstpointer  data)
{
  const char *expected[] = { "extend data-file nospace 16", "error data-file", "extend data-file nospace 16", NULL };
  g_autoptr(GError) failure = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_NO_SPACE, "volume group full");
  g_autoptr(GPtrArray) conts = NULL;
  QmpThinDisk *disk;

  connect_and_monitor (f);
  disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", 12 * MiB, 4 * MiB, 50);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);
  qmp_fake_server_set_reply (f->server, "query-status", IO_ERROR);
  send_nospace (f, g_get_real_time (), 12 * MiB);
  QMP_TEST_WAIT_FOR (f->log->len == 1, WAIT_LIMIT_MS);

  qmp_thin_monitor_extend_failed (f->monitor, "data-file", failure);
  g_assert_cmpint (qmp_thin_disk_get_state (disk), ==, QMP_THIN_DISK_STATE_EXCEEDED);
  drain ();
  conts = take_requests (f, "cont");
  g_assert_cmpuint (conts->len, ==, 0);

  /* Someone resumes; the write fails again. */
  qmp_fake_server_send_event (f->server, "RESUME", NULL);
  send_nospace (f, g_get_real_time (), 12 * MiB);
  assert_log (f, expected);
  qmp_thin_monitor_extended (f->monitor, "data-file", 16 * MiB);
  QMP_TEST_WAIT_FOR (qmp_thin_monitor_get_n_resumes (f->monitor) == 1, WAIT_LIMIT_MS);
}

/* Connecting to a VM paused on a full disk, whose threshold fired while
 * nobody listened: one MISSED need for both derived events, then resumed
 * after the extension. */
static void
test_missed (Fixture       *f,
             gconstpointer  data)
{
  const char *expected[] = { "extend data-file missed 16", NULL };
  QmpThinDisk *disk;

  qmp_fake_server_set_reply (f->server, "query-status", IO_ERROR);
  qmp_fake_server_set_reply (f->server, "query-block",
                             "{\"return\": [{\"io-status\": \"nospace\", \"device\": \"\", \"qdev\": \"datadisk\","
                             " \"inserted\": {\"node-name\": \"data-fmt\"}}]}");
  qmp_fake_server_set_reply (f->server, "query-named-block-nodes",
                             "{\"return\": [{\"node-name\": \"data-file\", \"write_threshold\": 0}]}");
  set_allocation (f, 12 * MiB);
  qmp_client_declare_write_threshold (f->client, "data-file", 8 * MiB);
  /* The agent sets up its monitor before connecting. */
  f->monitor = qmp_thin_monitor_new (f->client);
  g_signal_connect (f->monitor, "extend-needed", G_CALLBACK (on_extend_needed), f);
  g_signal_connect (f->monitor, "error", G_CALLBACK (on_error), f);
  disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", 12 * MiB, 4 * MiB, 50);
  g_assert_cmpint (qmp_thin_disk_get_state (disk), ==, QMP_THIN_DISK_STATE_UNSET);
  g_assert_true (qmp_client_connect_sync (f->client, NULL, NULL));
  assert_log (f, expected);
  g_assert_cmpuint (qmp_thin_monitor_get_n_nospace_pauses (f->monitor), ==, 1);

  qmp_thin_monitor_extended (f->monitor, "data-file", 16 * MiB);
  QMP_TEST_WAIT_FOR (qmp_thin_monitor_get_n_resumes (f->monitor) == 1, WAIT_LIMIT_MS);
  g_assert_cmpint (qmp_thin_disk_get_state (disk), ==, QMP_THIN_DISK_STATE_ARMED);
}

/* The connection drops while the consumer extends: the need is not asked
 * again after the reconnection, the extension arms and resumes. A new
 * QEMU instance gets every threshold again. */
static void
test_reconnect_mid_extension (Fixture       *f,
                              gconstpointer  data)
{
  const char *expected[] = { "extend data-file nospace 16", NULL };
  g_autoptr(GPtrArray) armed = NULL;
  QmpThinDisk *disk;

  g_object_set (f->client, "auto-reconnect", TRUE, "reconnect-min-delay", 20, "reconnect-max-delay", 40, NULL);
  connect_and_monitor (f);
  disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", 12 * MiB, 4 * MiB, 50);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);
  qmp_fake_server_set_reply (f->server, "query-status", IO_ERROR);
  qmp_fake_server_set_reply (f->server, "query-block",
                             "{\"return\": [{\"io-status\": \"nospace\", \"device\": \"\","
                             " \"inserted\": {\"node-name\": \"data-fmt\"}}]}");
  send_nospace (f, g_get_real_time (), 12 * MiB);
  QMP_TEST_WAIT_FOR (f->log->len == 1, WAIT_LIMIT_MS);

  qmp_fake_server_close_client (f->server);
  QMP_TEST_WAIT_FOR (qmp_fake_server_get_n_connections (f->server) == 2 &&
                     qmp_client_get_state (f->client) == QMP_CLIENT_STATE_READY, WAIT_LIMIT_MS);
  assert_log (f, expected);
  g_assert_cmpint (qmp_thin_disk_get_state (disk), ==, QMP_THIN_DISK_STATE_EXCEEDED);
  /* One pause, seen across the reconnection. */
  g_assert_cmpuint (qmp_thin_monitor_get_n_nospace_pauses (f->monitor), ==, 1);

  qmp_thin_monitor_extended (f->monitor, "data-file", 16 * MiB);
  QMP_TEST_WAIT_FOR (qmp_thin_monitor_get_n_resumes (f->monitor) == 1, WAIT_LIMIT_MS);

  /* QEMU restarted: the threshold is armed again. */
  qmp_fake_server_set_reply (f->server, "query-status", RUNNING);
  armed = take_requests (f, "block-set-write-threshold");
  qmp_fake_server_restart (f->server);
  QMP_TEST_WAIT_FOR (qmp_fake_server_get_n_connections (f->server) == 3 &&
                     qmp_client_get_state (f->client) == QMP_CLIENT_STATE_READY, WAIT_LIMIT_MS);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);
  g_clear_pointer (&armed, g_ptr_array_unref);
  armed = take_requests (f, "block-set-write-threshold");
  g_assert_cmpuint (armed->len, ==, 1);
  g_assert_cmpstr (armed->pdata[0], ==, "{\"node-name\":\"data-file\",\"write-threshold\":14680064}");
}

/* A node QEMU does not have: DISABLED, with an error. Removing a disk
 * disarms it. A maximum size caps what is asked, then disables. */
static void
test_disable_remove_maximum (Fixture       *f,
                             gconstpointer  data)
{
  const char *expected[] = { "error nosuch", "extend data-file threshold 14", NULL };
  g_autoptr(GPtrArray) armed = NULL;
  g_autoptr(GPtrArray) disks = NULL;
  QmpThinDisk *missing, *disk;

  connect_and_monitor (f);
  qmp_fake_server_set_raw_reply (f->server, "block-set-write-threshold",
                                 "{\"id\": " QMP_FAKE_ID ", \"error\": {\"class\": \"GenericError\","
                                 " \"desc\": \"Device 'nosuch' not found\"}}\r\n");
  missing = qmp_thin_monitor_add_disk (f->monitor, "nosuch", 10 * MiB, 4 * MiB, 50);
  wait_state (missing, QMP_THIN_DISK_STATE_DISABLED);
  qmp_fake_server_set_reply (f->server, "block-set-write-threshold", "{\"return\": {}}");

  disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", 10 * MiB, 4 * MiB, 50);
  qmp_thin_disk_set_maximum_size (disk, 14 * MiB);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);
  disks = qmp_thin_monitor_list_disks (f->monitor);
  g_assert_cmpuint (disks->len, ==, 2);
  g_assert_true (disks->pdata[1] == disk);

  /* The write would want 15 MiB: capped to the maximum. */
  qmp_fake_server_send_event (f->server, "BLOCK_WRITE_THRESHOLD",
                              "{\"node-name\": \"data-file\", \"write-threshold\": 8388608, \"amount-exceeded\": 2097152}");
  assert_log (f, expected);
  armed = take_requests (f, "block-set-write-threshold");
  qmp_thin_monitor_extended (f->monitor, "data-file", 14 * MiB);
  wait_state (disk, QMP_THIN_DISK_STATE_DISABLED);
  g_clear_pointer (&armed, g_ptr_array_unref);
  armed = take_requests (f, "block-set-write-threshold");
  g_assert_cmpuint (armed->len, ==, 1);
  g_assert_cmpstr (armed->pdata[0], ==, "{\"node-name\":\"data-file\",\"write-threshold\":0}");

  g_assert_true (qmp_thin_monitor_remove_disk (f->monitor, "nosuch"));
  g_assert_false (qmp_thin_monitor_remove_disk (f->monitor, "nosuch"));
  g_assert_null (qmp_thin_monitor_get_disk (f->monitor, "nosuch"));
  g_assert_cmpint (qmp_thin_disk_get_state (missing), ==, QMP_THIN_DISK_STATE_DISABLED);
}

/* Members QEMU leaves out or mistypes: a BLOCK_WRITE_THRESHOLD without a
 * string node-name is nobody's. */
static void
test_malformed_threshold (Fixture       *f,
                          gconstpointer  data)
{
  QmpThinDisk *disk;

  connect_and_monitor (f);
  disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", 10 * MiB, 4 * MiB, 50);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);
  qmp_fake_server_send_event (f->server, "BLOCK_WRITE_THRESHOLD",
                              "{\"write-threshold\": 8388608, \"amount-exceeded\": 1}");
  qmp_fake_server_send_event (f->server, "BLOCK_WRITE_THRESHOLD",
                              "{\"node-name\": 7, \"write-threshold\": 8388608, \"amount-exceeded\": 1}");
  qmp_fake_server_send_event (f->server, "BLOCK_WRITE_THRESHOLD",
                              "{\"node-name\": null}");
  drain ();
  g_assert_cmpint (qmp_thin_disk_get_state (disk), ==, QMP_THIN_DISK_STATE_ARMED);
  g_assert_cmpuint (f->log->len, ==, 0);
}

typedef struct {
  Fixture *f;
  guint n_nested;
} NestedReason;

static gboolean
quit_soon (gpointer loop)
{
  g_main_loop_quit (loop);
  return G_SOURCE_REMOVE;
}

/* A handler connected before the monitor's spins a nested main loop when
 * the VM pauses for lack of space: the RESUME that follows is delivered
 * inside it, so the monitor hears of the pause after it ended. */
static void
on_reason_nested_loop (QmpClient     *client,
                       QmpStopReason *reason,
                       gpointer       user_data)
{
  NestedReason *nested = user_data;
  g_autoptr(GMainLoop) loop = NULL;

  if (qmp_stop_reason_get_kind (reason) != QMP_STOP_KIND_NOSPACE || nested->n_nested++ > 0)
    return;
  loop = g_main_loop_new (NULL, FALSE);
  qmp_fake_server_send_event (nested->f->server, "RESUME", NULL);
  /* Until the RESUME was delivered, inside this emission. */
  while (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (client)) != QMP_STOP_KIND_RUNNING)
    g_main_context_iteration (NULL, TRUE);
  g_timeout_add (20, quit_soon, loop);
  g_main_loop_run (loop);
}

static void
test_nested_loop_counters (Fixture       *f,
                           gconstpointer  data)
{
  NestedReason nested = { f, 0 };
  QmpThinDisk *disk;
  gint64 paused;

  g_signal_connect (f->client, "stop-reason-changed", G_CALLBACK (on_reason_nested_loop), &nested);
  connect_and_monitor (f);
  disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", 12 * MiB, 4 * MiB, 50);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);
  send_nospace (f, g_get_real_time (), 12 * MiB);
  QMP_TEST_WAIT_FOR (nested.n_nested == 1, WAIT_LIMIT_MS);
  drain ();
  g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f->client)), ==, QMP_STOP_KIND_RUNNING);
  /* The pause counts as one that ended, and its time stops growing. */
  g_assert_cmpuint (qmp_thin_monitor_get_n_nospace_pauses (f->monitor), <=, 1);
  paused = qmp_thin_monitor_get_nospace_paused_usec (f->monitor);
  drain ();
  g_assert_cmpint (qmp_thin_monitor_get_nospace_paused_usec (f->monitor), ==, paused);
}

static void
on_extend_needed_dispose (QmpThinMonitor  *monitor,
                          QmpThinDisk     *disk,
                          guint64          wanted_size,
                          QmpExtendReason  reason,
                          gpointer         user_data)
{
  Fixture *f = user_data;

  g_ptr_array_add (f->log, g_strdup ("disposed"));
  g_object_run_dispose (G_OBJECT (monitor));
}

/* A handler disposes the monitor from its own extend-needed, raised by the
 * allocation check after arming: nothing touches the client afterwards. */
static void
test_dispose_in_handler (Fixture       *f,
                         gconstpointer  data)
{
  const char *expected[] = { "disposed", NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpThinDisk) disk = NULL;

  set_allocation (f, 12 * MiB);
  g_assert_true (qmp_client_connect_sync (f->client, NULL, &error));
  f->monitor = qmp_thin_monitor_new (f->client);
  g_signal_connect (f->monitor, "extend-needed", G_CALLBACK (on_extend_needed_dispose), f);
  disk = g_object_ref (qmp_thin_monitor_add_disk (f->monitor, "data-file", 12 * MiB, 4 * MiB, 50));
  assert_log (f, expected);
  g_assert_cmpint (qmp_thin_disk_get_state (disk), ==, QMP_THIN_DISK_STATE_EXCEEDED);
  g_assert_cmpuint (qmp_thin_monitor_get_n_resumes (f->monitor), ==, 0);
}

/* A disk grown to its maximum size during a pause for lack of space: with
 * room, the VM is resumed; paused again on it, the consumer is told once,
 * with ::error, and the VM stays paused. */
static void
test_maximum_while_paused (Fixture       *f,
                           gconstpointer  data)
{
  const char *expected[] = { "extend data-file nospace 12", NULL };
  const char *then[] = { "extend data-file nospace 12", "error data-file", NULL };
  g_autoptr(GPtrArray) conts = NULL;
  QmpThinDisk *disk;

  connect_and_monitor (f);
  disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", 8 * MiB, 4 * MiB, 50);
  qmp_thin_disk_set_maximum_size (disk, 12 * MiB);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);
  qmp_fake_server_set_reply (f->server, "query-status", IO_ERROR);
  send_nospace (f, g_get_real_time (), 8 * MiB);
  assert_log (f, expected);

  /* The most it may have: no threshold, but room, so resumed. */
  qmp_thin_monitor_extended (f->monitor, "data-file", 12 * MiB);
  wait_state (disk, QMP_THIN_DISK_STATE_DISABLED);
  QMP_TEST_WAIT_FOR (qmp_thin_monitor_get_n_resumes (f->monitor) == 1, WAIT_LIMIT_MS);

  /* Full at its maximum: told once. */
  send_nospace (f, g_get_real_time (), 12 * MiB);
  assert_log (f, then);
  qmp_fake_server_send_event (f->server, "RESUME", NULL);
  send_nospace (f, g_get_real_time (), 12 * MiB);
  QMP_TEST_WAIT_FOR (qmp_thin_monitor_get_n_nospace_pauses (f->monitor) == 3, WAIT_LIMIT_MS);
  assert_log (f, then);
  conts = take_requests (f, "cont");
  g_assert_cmpuint (conts->len, ==, 1);
}

/* 100 disks on one VM: armed in one pipelined round and one allocation
 * check; 20 monitors of 20 VMs in one process. */
static void
test_many (Fixture       *f,
           gconstpointer  data)
{
  g_autoptr(GPtrArray) armed = NULL;
  g_autoptr(GPtrArray) stats = NULL;
  g_autoptr(GPtrArray) servers = g_ptr_array_new_with_free_func ((GDestroyNotify) qmp_fake_server_free);
  g_autoptr(GPtrArray) clients = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr(GPtrArray) monitors = g_ptr_array_new_with_free_func (g_object_unref);
  gint64 start;

  connect_and_monitor (f);
  start = g_get_monotonic_time ();
  for (guint i = 0; i < 100; i++)
    {
      g_autofree char *node = g_strdup_printf ("disk%u-file", i);

      qmp_thin_monitor_add_disk (f->monitor, node, (i + 10) * MiB, 4 * MiB, 50);
    }
  {
    g_autoptr(GPtrArray) disks = qmp_thin_monitor_list_disks (f->monitor);

    for (guint i = 0; i < disks->len; i++)
      wait_state (disks->pdata[i], QMP_THIN_DISK_STATE_ARMED);
    g_test_message ("100 disks armed and checked in %.1f ms", (g_get_monotonic_time () - start) / 1e3);
    g_assert_cmpuint (qmp_thin_disk_get_threshold (disks->pdata[99]), ==, 107 * MiB);
  }
  armed = take_requests (f, "block-set-write-threshold");
  g_assert_cmpuint (armed->len, ==, 100);

  for (guint i = 0; i < 20; i++)
    {
      QmpFakeServer *server = qmp_fake_server_new ();
      QmpClient *client = qmp_client_new (qmp_fake_server_get_address (server));
      QmpThinMonitor *monitor;

      qmp_fake_server_set_reply (server, "query-status", RUNNING);
      qmp_fake_server_set_reply (server, "block-set-write-threshold", "{\"return\": {}}");
      qmp_fake_server_set_reply (server, "query-blockstats", "{\"return\": []}");
      g_ptr_array_add (servers, server);
      g_ptr_array_add (clients, client);
      monitor = qmp_thin_monitor_new (client);
      g_ptr_array_add (monitors, monitor);
      qmp_thin_monitor_add_disk (monitor, "data-file", 10 * MiB, 4 * MiB, 50);
      qmp_client_connect_async (client, NULL, NULL, NULL);
    }
  for (guint i = 0; i < monitors->len; i++)
    wait_state (qmp_thin_monitor_get_disk (monitors->pdata[i], "data-file"), QMP_THIN_DISK_STATE_ARMED);
  /* Each monitor listens to its own client only. */
  qmp_fake_server_send_event (servers->pdata[3], "BLOCK_WRITE_THRESHOLD",
                              "{\"node-name\": \"data-file\", \"write-threshold\": 8388608, \"amount-exceeded\": 1}");
  wait_state (qmp_thin_monitor_get_disk (monitors->pdata[3], "data-file"), QMP_THIN_DISK_STATE_EXCEEDED);
  drain ();
  for (guint i = 0; i < monitors->len; i++)
    if (i != 3)
      g_assert_cmpint (qmp_thin_disk_get_state (qmp_thin_monitor_get_disk (monitors->pdata[i], "data-file")), ==,
                       QMP_THIN_DISK_STATE_ARMED);
  /* Monitors go before their clients: nothing left behind. */
  g_ptr_array_set_size (monitors, 0);
  g_ptr_array_set_size (clients, 0);
}

/* ------------------------------------------------------------------------ */
/* The block graph: snapshots, commits, mirrors (QEMU's own readings, see
 * test-graph.c) */

#define DEVICE "/machine/peripheral/datadisk/virtio-backend"

/* Answers x-debug-query-block-graph with tests/data/graph-@name.json. */
static void
set_graph (Fixture    *f,
           const char *name)
{
  g_autofree char *file = g_strdup_printf ("graph-%s.json", name);
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", file, NULL);
  g_autofree char *reply = NULL;

  g_assert_true (g_file_get_contents (path, &reply, NULL, NULL));
  qmp_fake_server_set_reply (f->server, "x-debug-query-block-graph", g_strstrip (reply));
}

/* The nodes of every reading, with their sizes: 64 MiB qcow2 images in
 * 80 MiB files. */
static void
set_nodes (Fixture *f)
{
  GString *reply = g_string_new ("{\"return\": [");
  const char *formats[] = { "data-fmt", "snap-fmt", "mir-fmt" };
  const char *files[] = { "data-file", "snap-file", "mir-file" };

  for (guint i = 0; i < G_N_ELEMENTS (formats); i++)
    g_string_append_printf (reply,
                            "%s{\"node-name\": \"%s\", \"drv\": \"qcow2\", \"ro\": false,"
                            " \"image\": {\"virtual-size\": 67108864, \"cluster-size\": 65536}},"
                            "{\"node-name\": \"%s\", \"drv\": \"file\", \"ro\": false,"
                            " \"image\": {\"virtual-size\": 83886080}}",
                            i > 0 ? "," : "", formats[i], files[i]);
  g_string_append (reply, "]}");
  qmp_fake_server_set_reply (f->server, "query-named-block-nodes", reply->str);
  g_string_free (reply, TRUE);
}

static gboolean
has_request (GPtrArray  *requests,
             const char *text)
{
  for (guint i = 0; i < requests->len; i++)
    if (g_str_equal (requests->pdata[i], text))
      return TRUE;
  return FALSE;
}

/* The disk is found in the graph (its device, the maximum its qcow2 can
 * use); a snapshot moves it to the overlay's storage, with the size the
 * consumer declared, and the old node is disarmed. The consumer's late
 * answer to the need of the old node changes nothing. */
static void
test_follow_snapshot (Fixture       *f,
                      gconstpointer  data)
{
  const char *asked[] = { "extend data-file threshold 14", NULL };
  const char *moved[] = { "extend data-file threshold 14", "moved data-file snap-file", NULL };
  g_autoptr(GPtrArray) armed = NULL;
  QmpThinDisk *disk;

  set_graph (f, "committed");
  set_nodes (f);
  connect_and_monitor (f);
  disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", 10 * MiB, 4 * MiB, 50);
  QMP_TEST_WAIT_FOR (qmp_thin_disk_get_device (disk) != NULL, WAIT_LIMIT_MS);
  g_assert_cmpstr (qmp_thin_disk_get_device (disk), ==, DEVICE);
  g_assert_cmpuint (qmp_thin_disk_get_maximum_size (disk), ==,
                    qmp_thin_estimate_maximum_size ("qcow2", 64 * MiB, 65536));
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);
  qmp_fake_server_send_event (f->server, "BLOCK_WRITE_THRESHOLD",
                              "{\"node-name\": \"data-file\", \"write-threshold\": 8388608, \"amount-exceeded\": 2097152}");
  assert_log (f, asked);
  g_clear_pointer (&armed, g_ptr_array_unref);
  armed = take_requests (f, "block-set-write-threshold");

  /* The consumer snapshots while it extends. */
  set_graph (f, "snapshot");
  qmp_thin_monitor_declare_storage (f->monitor, "snap-file", 8 * MiB);
  qmp_thin_monitor_refresh (f->monitor);
  assert_log (f, moved);
  g_assert_true (qmp_thin_monitor_get_disk (f->monitor, "snap-file") == disk);
  g_assert_null (qmp_thin_monitor_get_disk (f->monitor, "data-file"));
  g_assert_cmpstr (qmp_thin_disk_get_node_name (disk), ==, "snap-file");
  g_assert_cmpuint (qmp_thin_disk_get_physical_size (disk), ==, 8 * MiB);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);
  g_assert_cmpuint (qmp_thin_disk_get_threshold (disk), ==, 6 * MiB);
  g_clear_pointer (&armed, g_ptr_array_unref);
  armed = take_requests (f, "block-set-write-threshold");
  g_assert_true (has_request (armed, "{\"node-name\":\"data-file\",\"write-threshold\":0}"));
  g_assert_true (has_request (armed, "{\"node-name\":\"snap-file\",\"write-threshold\":6291456}"));

  /* The old node's extension lands: nothing to do. */
  qmp_thin_monitor_extended (f->monitor, "data-file", 14 * MiB);
  qmp_thin_monitor_extended (f->monitor, "data-file", 15 * MiB);
  drain ();
  g_assert_cmpuint (qmp_thin_disk_get_physical_size (disk), ==, 8 * MiB);
  g_assert_cmpint (qmp_thin_disk_get_state (disk), ==, QMP_THIN_DISK_STATE_ARMED);
  assert_log (f, moved);

  /* A threshold of the old node, late: not the disk's any more. */
  qmp_fake_server_send_event (f->server, "BLOCK_WRITE_THRESHOLD",
                              "{\"node-name\": \"data-file\", \"write-threshold\": 8388608, \"amount-exceeded\": 1}");
  assert_log (f, moved);
}

/* A graph with the device's root on @top and its file chain. */
static void
set_graph_on (Fixture    *f,
              const char *prefix)
{
  g_autofree char *reply = g_strdup_printf (
    "{\"return\": {\"nodes\": ["
    "{\"name\": \"%s-fmt\", \"type\": \"block-driver\", \"id\": 3},"
    "{\"name\": \"%s-lim\", \"type\": \"block-driver\", \"id\": 2},"
    "{\"name\": \"%s-file\", \"type\": \"block-driver\", \"id\": 1},"
    "{\"name\": \"" DEVICE "\", \"type\": \"block-backend\", \"id\": 4}],"
    " \"edges\": ["
    "{\"name\": \"file\", \"parent\": 3, \"child\": 2},"
    "{\"name\": \"file\", \"parent\": 2, \"child\": 1},"
    "{\"name\": \"root\", \"parent\": 4, \"child\": 3}]}}", prefix, prefix, prefix);

  qmp_fake_server_set_reply (f->server, "x-debug-query-block-graph", reply);
}

/* A mirror: its target is watched and asked for while the job runs; at
 * the pivot the disk takes the target's node, its size and its pending
 * need over. */
static void
test_follow_mirror (Fixture       *f,
                    gconstpointer  data)
{
  const char *started[] = { "replica mir-file m1 of data-file", NULL };
  const char *asked[] = { "replica mir-file m1 of data-file", "extend mir-file threshold 14", NULL };
  const char *pivoted[] = {
    "replica mir-file m1 of data-file", "extend mir-file threshold 14",
    "replica-removed mir-file m1 of data-file", "moved data-file mir-file", NULL
  };
  g_autoptr(QmpThinDisk) replica = NULL;
  QmpThinDisk *disk;

  set_graph (f, "committed");
  set_nodes (f);
  connect_and_monitor (f);
  disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", 10 * MiB, 4 * MiB, 50);
  QMP_TEST_WAIT_FOR (qmp_thin_disk_get_device (disk) != NULL, WAIT_LIMIT_MS);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);

  set_graph (f, "mirror");
  qmp_thin_monitor_declare_storage (f->monitor, "mir-file", 10 * MiB);
  qmp_fake_server_send_event (f->server, "JOB_STATUS_CHANGE", "{\"status\": \"running\", \"id\": \"m1\"}");
  assert_log (f, started);
  replica = qmp_thin_monitor_get_disk (f->monitor, "mir-file");
  g_assert_nonnull (replica);
  g_object_ref (replica);
  g_assert_true (qmp_thin_disk_get_replica_of (replica) == disk);
  g_assert_cmpuint (qmp_thin_disk_get_physical_size (replica), ==, 10 * MiB);
  wait_state (replica, QMP_THIN_DISK_STATE_ARMED);
  g_assert_cmpuint (qmp_thin_disk_get_threshold (replica), ==, 8 * MiB);
  {
    g_autoptr(GPtrArray) disks = qmp_thin_monitor_list_disks (f->monitor);

    g_assert_cmpuint (disks->len, ==, 2);
    g_assert_true (disks->pdata[1] == replica);
  }

  /* The job fills the target. */
  qmp_fake_server_send_event (f->server, "BLOCK_WRITE_THRESHOLD",
                              "{\"node-name\": \"mir-file\", \"write-threshold\": 8388608, \"amount-exceeded\": 2097152}");
  assert_log (f, asked);

  /* Pivoted before the consumer answered: the disk has the need now. */
  set_graph_on (f, "mir");
  qmp_fake_server_send_event (f->server, "JOB_STATUS_CHANGE", "{\"status\": \"concluded\", \"id\": \"m1\"}");
  assert_log (f, pivoted);
  g_assert_cmpint (qmp_thin_disk_get_state (replica), ==, QMP_THIN_DISK_STATE_DISABLED);
  g_assert_true (qmp_thin_monitor_get_disk (f->monitor, "mir-file") == disk);
  g_assert_cmpint (qmp_thin_disk_get_state (disk), ==, QMP_THIN_DISK_STATE_EXCEEDED);
  g_assert_cmpuint (qmp_thin_disk_get_wanted_size (disk), ==, 14 * MiB);
  qmp_thin_monitor_extended (f->monitor, "mir-file", 14 * MiB);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);
  g_assert_cmpuint (qmp_thin_disk_get_physical_size (disk), ==, 14 * MiB);
  g_assert_cmpuint (qmp_thin_disk_get_threshold (disk), ==, 12 * MiB);
  assert_log (f, pivoted);
}

/* A mirror cancelled while its target was being extended: the replica
 * goes, the late answer is taken, the disk stays. */
static void
test_follow_mirror_cancelled (Fixture       *f,
                              gconstpointer  data)
{
  const char *expected[] = {
    "replica mir-file m1 of data-file", "extend mir-file threshold 14",
    "replica-removed mir-file m1 of data-file", NULL
  };
  QmpThinDisk *disk, *replica;

  set_graph (f, "mirror");
  set_nodes (f);
  connect_and_monitor (f);
  disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", 10 * MiB, 4 * MiB, 50);
  QMP_TEST_WAIT_FOR (f->log->len == 1, WAIT_LIMIT_MS);
  /* Not declared: QEMU's size of the target's file, more than its qcow2
   * can use: nothing to arm, nothing to ask. */
  replica = qmp_thin_monitor_get_disk (f->monitor, "mir-file");
  g_assert_cmpuint (qmp_thin_disk_get_physical_size (replica), ==, 80 * MiB);
  wait_state (replica, QMP_THIN_DISK_STATE_DISABLED);
  g_assert_cmpuint (qmp_thin_disk_get_maximum_size (replica), <, 80 * MiB);
  /* The consumer says what it is, and grows it. */
  qmp_thin_monitor_extended (f->monitor, "mir-file", 10 * MiB);
  wait_state (replica, QMP_THIN_DISK_STATE_ARMED);
  qmp_fake_server_send_event (f->server, "BLOCK_WRITE_THRESHOLD",
                              "{\"node-name\": \"mir-file\", \"write-threshold\": 8388608, \"amount-exceeded\": 2097152}");
  QMP_TEST_WAIT_FOR (f->log->len == 2, WAIT_LIMIT_MS);

  set_graph (f, "committed");
  qmp_fake_server_send_event (f->server, "JOB_STATUS_CHANGE", "{\"status\": \"aborting\", \"id\": \"m1\"}");
  assert_log (f, expected);
  g_assert_null (qmp_thin_monitor_get_disk (f->monitor, "mir-file"));
  qmp_thin_monitor_extended (f->monitor, "mir-file", 84 * MiB);
  qmp_thin_monitor_extend_failed (f->monitor, "mir-file", &(GError) { G_IO_ERROR, G_IO_ERROR_FAILED, (char *) "x" });
  drain ();
  assert_log (f, expected);
  g_assert_cmpint (qmp_thin_disk_get_state (disk), ==, QMP_THIN_DISK_STATE_ARMED);
}

/* A QEMU without the graph command: the disk stays on its node. */
static void
test_follow_unavailable (Fixture       *f,
                         gconstpointer  data)
{
  g_autoptr(GPtrArray) graphs = NULL;
  QmpThinDisk *disk;

  connect_and_monitor (f);
  disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", 10 * MiB, 4 * MiB, 50);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);
  qmp_thin_monitor_refresh (f->monitor);
  qmp_fake_server_send_event (f->server, "JOB_STATUS_CHANGE", "{\"status\": \"running\", \"id\": \"m1\"}");
  graphs = take_requests (f, "x-debug-query-block-graph");
  /* Asked once, never again. */
  g_assert_cmpuint (graphs->len, ==, 1);
  g_assert_null (qmp_thin_disk_get_device (disk));
  g_assert_cmpuint (qmp_thin_disk_get_maximum_size (disk), ==, 0);
  g_assert_cmpint (qmp_thin_disk_get_state (disk), ==, QMP_THIN_DISK_STATE_ARMED);
}

/* ------------------------------------------------------------------------ */
/* The poll, the guard, the pauses */

/* The threshold is armed, the allocation passes it, no event comes: the
 * poll asks. */
static void
test_poll_missed (Fixture       *f,
                  gconstpointer  data)
{
  const char *expected[] = { "extend data-file missed 14", NULL };
  QmpThinDisk *disk;
  guint polls;

  connect_and_monitor (f);
  disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", 10 * MiB, 4 * MiB, 50);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);
  qmp_thin_monitor_set_poll_interval (f->monitor, 20);
  g_assert_cmpuint (qmp_thin_monitor_get_poll_interval (f->monitor), ==, 20);
  QMP_TEST_WAIT_FOR (qmp_thin_monitor_get_n_polls (f->monitor) >= 1, WAIT_LIMIT_MS);
  g_assert_cmpuint (f->log->len, ==, 0);

  set_allocation (f, 10 * MiB);
  polls = qmp_thin_monitor_get_n_polls (f->monitor);
  assert_log (f, expected);
  g_assert_cmpuint (qmp_thin_monitor_get_n_polls (f->monitor), >, polls);

  /* Off: no more polls. */
  qmp_thin_monitor_set_poll_interval (f->monitor, 0);
  drain ();
  polls = qmp_thin_monitor_get_n_polls (f->monitor);
  drain ();
  g_assert_cmpuint (qmp_thin_monitor_get_n_polls (f->monitor), ==, polls);
}

/* A snapshot taken before the first poll, with no refresh: the first
 * poll reads the graph too, and finds it. */
static void
test_poll_first_snapshot (Fixture       *f,
                          gconstpointer  data)
{
  const char *moved[] = { "moved data-file snap-file", NULL };
  QmpThinDisk *disk;

  set_graph (f, "committed");
  set_nodes (f);
  connect_and_monitor (f);
  disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", 10 * MiB, 4 * MiB, 50);
  QMP_TEST_WAIT_FOR (qmp_thin_disk_get_device (disk) != NULL, WAIT_LIMIT_MS);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);

  set_graph (f, "snapshot");
  qmp_thin_monitor_declare_storage (f->monitor, "snap-file", 8 * MiB);
  qmp_thin_monitor_set_poll_interval (f->monitor, 20);
  assert_log (f, moved);
  g_assert_cmpuint (qmp_thin_monitor_get_n_polls (f->monitor), >=, 1);
  g_assert_cmpstr (qmp_thin_disk_get_node_name (disk), ==, "snap-file");
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);
  g_assert_cmpuint (qmp_thin_disk_get_threshold (disk), ==, 6 * MiB);
}

/* The mirror's target holds @highest bytes; the source nothing new. */
static void
set_target_allocation (Fixture *f,
                       guint64  highest)
{
  g_autofree char *reply = g_strdup_printf (
    "{\"return\": ["
    "{\"node-name\": \"data-fmt\", \"stats\": {\"wr_highest_offset\": 100},"
    " \"parent\": {\"node-name\": \"data-file\", \"stats\": {\"wr_highest_offset\": 100}}},"
    "{\"node-name\": \"mir-fmt\", \"stats\": {\"wr_highest_offset\": 100},"
    " \"parent\": {\"node-name\": \"mir-file\", \"stats\": {\"wr_highest_offset\": %" G_GUINT64_FORMAT "}}},"
    "{\"node-name\": \"mir-file\", \"stats\": {\"wr_highest_offset\": %" G_GUINT64_FORMAT "}}"
    "]}", highest, highest);

  qmp_fake_server_set_reply (f->server, "query-blockstats", reply);
}

/* A mirror whose target ran out of space stops (on-target-error=stop):
 * the monitor asks for the replica's storage, resumes the job once it
 * grew, and not again if it stops with no more storage; a job a user
 * paused stays paused. */
static void
test_job_resume (Fixture       *f,
                 gconstpointer  data)
{
  const char *asked[] = { "replica mir-file m1 of data-file", "extend mir-file threshold 14", NULL };
  const char *again[] = {
    "replica mir-file m1 of data-file", "extend mir-file threshold 14", "extend mir-file nospace 18", NULL
  };
  g_autoptr(GPtrArray) resumes = NULL;
  QmpThinDisk *disk, *replica;

  set_graph (f, "committed");
  set_nodes (f);
  qmp_fake_server_set_reply (f->server, "block-job-resume", "{\"return\": {}}");
  qmp_fake_server_set_reply (f->server, "query-block-jobs",
                             "{\"return\": ["
                             "{\"device\": \"m1\", \"type\": \"mirror\", \"paused\": true, \"io-status\": \"nospace\"},"
                             "{\"device\": \"u1\", \"type\": \"backup\", \"paused\": true, \"io-status\": \"ok\"}]}");
  connect_and_monitor (f);
  disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", 10 * MiB, 4 * MiB, 50);
  QMP_TEST_WAIT_FOR (qmp_thin_disk_get_device (disk) != NULL, WAIT_LIMIT_MS);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);
  set_graph (f, "mirror");
  qmp_thin_monitor_declare_storage (f->monitor, "mir-file", 10 * MiB);
  qmp_fake_server_send_event (f->server, "JOB_STATUS_CHANGE", "{\"status\": \"running\", \"id\": \"m1\"}");
  QMP_TEST_WAIT_FOR (qmp_thin_monitor_get_disk (f->monitor, "mir-file") != NULL, WAIT_LIMIT_MS);
  replica = qmp_thin_monitor_get_disk (f->monitor, "mir-file");
  wait_state (replica, QMP_THIN_DISK_STATE_ARMED);
  g_clear_pointer (&resumes, g_ptr_array_unref);
  resumes = take_requests (f, "block-job-resume");

  /* The target fills; the job stops. Nothing is resumed while the
   * consumer extends. */
  set_target_allocation (f, 10 * MiB);
  qmp_fake_server_send_event (f->server, "BLOCK_WRITE_THRESHOLD",
                              "{\"node-name\": \"mir-file\", \"write-threshold\": 8388608, \"amount-exceeded\": 2097152}");
  qmp_fake_server_send_event (f->server, "BLOCK_JOB_ERROR",
                              "{\"device\": \"m1\", \"operation\": \"write\", \"action\": \"stop\"}");
  assert_log (f, asked);
  g_clear_pointer (&resumes, g_ptr_array_unref);
  resumes = take_requests (f, "block-job-resume");
  g_assert_cmpuint (resumes->len, ==, 0);

  /* Extended: resumed, the job the user paused left alone. */
  qmp_thin_monitor_extended (f->monitor, "mir-file", 14 * MiB);
  QMP_TEST_WAIT_FOR (qmp_thin_monitor_get_n_job_resumes (f->monitor) == 1, WAIT_LIMIT_MS);
  g_clear_pointer (&resumes, g_ptr_array_unref);
  resumes = take_requests (f, "block-job-resume");
  g_assert_cmpuint (resumes->len, ==, 1);
  g_assert_cmpstr (resumes->pdata[0], ==, "{\"device\":\"m1\"}");

  /* Stopped again with no more storage: asked for, not resumed. */
  qmp_fake_server_send_event (f->server, "BLOCK_JOB_ERROR",
                              "{\"device\": \"m1\", \"operation\": \"write\", \"action\": \"stop\"}");
  assert_log (f, again);
  g_clear_pointer (&resumes, g_ptr_array_unref);
  resumes = take_requests (f, "block-job-resume");
  g_assert_cmpuint (resumes->len, ==, 0);
  qmp_thin_monitor_extended (f->monitor, "mir-file", 18 * MiB);
  QMP_TEST_WAIT_FOR (qmp_thin_monitor_get_n_job_resumes (f->monitor) == 2, WAIT_LIMIT_MS);

  /* Running again: no more readings resume anything. */
  qmp_fake_server_set_reply (f->server, "query-block-jobs",
                             "{\"return\": [{\"device\": \"m1\", \"type\": \"mirror\", \"paused\": false,"
                             " \"io-status\": \"ok\"}]}");
  qmp_fake_server_send_event (f->server, "BLOCK_JOB_ERROR",
                              "{\"device\": \"m1\", \"operation\": \"write\", \"action\": \"report\"}");
  drain ();
  g_assert_cmpuint (qmp_thin_monitor_get_n_job_resumes (f->monitor), ==, 2);
  assert_log (f, again);
}

/* An allocation past the maximum size: an error, no extension, and
 * nothing more of the same. */
static void
test_improbable (Fixture       *f,
                 gconstpointer  data)
{
  const char *expected[] = { "improbable data-file", NULL };
  QmpThinDisk *disk;

  connect_and_monitor (f);
  disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", 10 * MiB, 4 * MiB, 50);
  qmp_thin_disk_set_maximum_size (disk, 16 * MiB);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);
  qmp_fake_server_send_event (f->server, "BLOCK_WRITE_THRESHOLD",
                              "{\"node-name\": \"data-file\", \"write-threshold\": 8388608, \"amount-exceeded\": 1073741824}");
  assert_log (f, expected);
  g_assert_cmpint (qmp_thin_disk_get_state (disk), ==, QMP_THIN_DISK_STATE_DISABLED);
  qmp_fake_server_set_reply (f->server, "query-status", IO_ERROR);
  send_nospace (f, g_get_real_time (), 1024 * MiB);
  assert_log (f, expected);
}

#define EIO_STOP \
  "{\"device\": \"\", \"nospace\": false, \"node-name\": \"data-fmt\"," \
  " \"reason\": \"Input/output error\", \"operation\": \"write\", \"action\": \"stop\"}"

static guint
n_conts (Fixture *f)
{
  g_autoptr(GPtrArray) conts = take_requests (f, "cont");

  return conts->len;
}

/* Paused on an I/O error under the retry policy: resumed after the
 * delay, again after a longer one when the error comes back; a user's
 * pause is never resumed. */
static void
test_io_error_retry (Fixture       *f,
                     gconstpointer  data)
{
  QmpThinDisk *disk;

  connect_and_monitor (f);
  disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", 10 * MiB, 4 * MiB, 50);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);

  /* The default leaves it paused. */
  g_assert_cmpint (qmp_thin_monitor_get_io_error_policy (f->monitor), ==, QMP_IO_ERROR_POLICY_LEAVE_PAUSED);
  qmp_fake_server_set_reply (f->server, "query-status", IO_ERROR);
  qmp_fake_server_send_event (f->server, "BLOCK_IO_ERROR", EIO_STOP);
  qmp_fake_server_send_event (f->server, "STOP", NULL);
  QMP_TEST_WAIT_FOR (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f->client)) == QMP_STOP_KIND_IO_ERROR,
                     WAIT_LIMIT_MS);
  g_assert_cmpuint (n_conts (f), ==, 0);

  /* Retried: one cont after the delay. */
  g_object_set (f->monitor, "io-error-retry-delay", 30, "io-error-retry-max-delay", 1000, NULL);
  qmp_thin_monitor_set_io_error_policy (f->monitor, QMP_IO_ERROR_POLICY_RETRY);
  QMP_TEST_WAIT_FOR (qmp_thin_monitor_get_n_io_error_retries (f->monitor) == 1, WAIT_LIMIT_MS);
  g_assert_cmpuint (n_conts (f), ==, 1);
  g_assert_cmpint (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f->client)), ==, QMP_STOP_KIND_RUNNING);

  /* The error comes back at once: retried again. */
  qmp_fake_server_send_event (f->server, "BLOCK_IO_ERROR", EIO_STOP);
  qmp_fake_server_send_event (f->server, "STOP", NULL);
  QMP_TEST_WAIT_FOR (qmp_thin_monitor_get_n_io_error_retries (f->monitor) == 2, WAIT_LIMIT_MS);
  g_assert_cmpuint (n_conts (f), ==, 1);

  /* A user pauses the VM: never resumed. */
  qmp_fake_server_set_reply (f->server, "query-status", "{\"return\": {\"status\": \"paused\", \"running\": false}}");
  g_assert_true (qmp_client_stop_sync (f->client, NULL, NULL));
  QMP_TEST_WAIT_FOR (qmp_stop_reason_get_kind (qmp_client_get_stop_reason (f->client)) == QMP_STOP_KIND_PAUSED_BY_USER,
                     WAIT_LIMIT_MS);
  drain ();
  drain ();
  g_assert_cmpuint (n_conts (f), ==, 0);
  g_assert_cmpuint (qmp_thin_monitor_get_n_io_error_retries (f->monitor), ==, 2);
  /* Nor a pause for lack of space. */
  g_assert_cmpuint (qmp_thin_monitor_get_n_resumes (f->monitor), ==, 0);
}

/* A pause for lack of space nobody resolves: told once after the limit. */
static void
test_pause_limit (Fixture       *f,
                  gconstpointer  data)
{
  const char *expected[] = { "extend data-file nospace 16", "too-long nospace", NULL };
  QmpThinDisk *disk;

  connect_and_monitor (f);
  qmp_thin_monitor_set_pause_limit (f->monitor, 30);
  g_assert_cmpuint (qmp_thin_monitor_get_pause_limit (f->monitor), ==, 30);
  disk = qmp_thin_monitor_add_disk (f->monitor, "data-file", 12 * MiB, 4 * MiB, 50);
  wait_state (disk, QMP_THIN_DISK_STATE_ARMED);
  qmp_fake_server_set_reply (f->server, "query-status", IO_ERROR);
  send_nospace (f, g_get_real_time (), 12 * MiB);
  assert_log (f, expected);
  drain ();
  assert_log (f, expected);

  /* Resolved: resumed; a new pause is timed anew. */
  qmp_thin_monitor_extended (f->monitor, "data-file", 16 * MiB);
  QMP_TEST_WAIT_FOR (qmp_thin_monitor_get_n_resumes (f->monitor) == 1, WAIT_LIMIT_MS);
  qmp_fake_server_send_event (f->server, "BLOCK_IO_ERROR", EIO_STOP);
  qmp_fake_server_send_event (f->server, "STOP", NULL);
  QMP_TEST_WAIT_FOR (f->log->len == 3, WAIT_LIMIT_MS);
  g_assert_cmpstr (f->log->pdata[2], ==, "too-long io-error");
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, func) g_test_add ("/qmp/thin-monitor/" path, Fixture, NULL, setup, func, teardown)
  g_test_add_func ("/qmp/thin-monitor/compute", test_compute);
  ADD ("threshold-cycle", test_threshold_cycle);
  ADD ("already-exceeded", test_already_exceeded);
  ADD ("nospace-sync-extension", test_nospace_sync_extension);
  ADD ("stale-nospace", test_stale_nospace);
  ADD ("no-cont-for-others", test_no_cont_for_others);
  ADD ("extend-failed", test_extend_failed);
  ADD ("missed", test_missed);
  ADD ("reconnect-mid-extension", test_reconnect_mid_extension);
  ADD ("disable-remove-maximum", test_disable_remove_maximum);
  ADD ("malformed-threshold", test_malformed_threshold);
  ADD ("nested-loop-counters", test_nested_loop_counters);
  ADD ("dispose-in-handler", test_dispose_in_handler);
  ADD ("maximum-while-paused", test_maximum_while_paused);
  ADD ("many", test_many);
  ADD ("follow/snapshot", test_follow_snapshot);
  ADD ("follow/mirror", test_follow_mirror);
  ADD ("follow/mirror-cancelled", test_follow_mirror_cancelled);
  ADD ("follow/unavailable", test_follow_unavailable);
  ADD ("poll-missed", test_poll_missed);
  ADD ("poll-first-snapshot", test_poll_first_snapshot);
  ADD ("job-resume", test_job_resume);
  ADD ("improbable", test_improbable);
  ADD ("io-error-retry", test_io_error_retry);
  ADD ("pause-limit", test_pause_limit);
#undef ADD

  return g_test_run ();
}
