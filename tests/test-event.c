/* test-event.c: QmpEvent and the typed events, alone and through a client
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include <qmpthin/qmpthin.h>

#include "qmp-fake-server.h"
#include "qmp-test-util.h"

static JsonObject *
object_from (const char *text)
{
  g_autoptr(JsonNode) node = json_from_string (text, NULL);

  g_assert_nonnull (node);
  return json_object_ref (json_node_get_object (node));
}

static void
test_base (void)
{
  const gint64 usec = G_GINT64_CONSTANT (1795358840569524);
  g_autoptr(JsonObject) data = object_from ("{\"guest\": false, \"reason\": \"host-qmp-quit\"}");
  g_autoptr(JsonObject) same = object_from ("{\"guest\": false, \"reason\": \"host-qmp-quit\"}");
  g_autoptr(QmpEvent) event = qmp_event_new ("SHUTDOWN", usec, data);
  g_autoptr(GDateTime) expected = NULL;
  g_autoptr(GDateTime) whole = g_date_time_new_from_unix_utc (usec / G_USEC_PER_SEC);
  g_autoptr(GDateTime) property_timestamp = NULL;
  g_autoptr(JsonObject) property_data = NULL;
  g_autoptr(JsonNode) parsed = NULL;
  g_autofree char *property_name = NULL;
  g_autofree char *text = NULL;
  gint64 property_usec = 0;
  gboolean property_derived = TRUE;
  GDateTime *timestamp;
  JsonObject *object;

  g_assert_true (G_TYPE_FROM_INSTANCE (event) == QMP_TYPE_EVENT);
  g_assert_cmpstr (qmp_event_get_name (event), ==, "SHUTDOWN");
  g_assert_false (qmp_event_get_derived (event));
  g_assert_cmpint (qmp_event_get_timestamp_usec (event), ==, usec);

  /* The timestamp, in UTC, to the microsecond. */
  expected = g_date_time_add (whole, usec % G_USEC_PER_SEC);
  timestamp = qmp_event_get_timestamp (event);
  g_assert_nonnull (timestamp);
  g_assert_true (g_date_time_equal (timestamp, expected));
  g_assert_cmpint (g_date_time_to_unix (timestamp), ==, 1795358840);
  g_assert_cmpint (g_date_time_get_microsecond (timestamp), ==, 569524);
  g_assert_cmpint (g_date_time_get_utc_offset (timestamp), ==, 0);

  g_assert_true (qmp_event_get_data (event) == data);
  g_assert_true (json_object_equal (qmp_event_get_data (event), same));
  /* Sealed: handlers share it. */
  g_assert_true (json_object_is_immutable (qmp_event_get_data (event)));

  /* The same through the properties. */
  g_object_get (event,
                "name", &property_name,
                "timestamp", &property_timestamp,
                "timestamp-usec", &property_usec,
                "data", &property_data,
                "derived", &property_derived,
                NULL);
  g_assert_cmpstr (property_name, ==, "SHUTDOWN");
  g_assert_true (g_date_time_equal (property_timestamp, expected));
  g_assert_cmpint (property_usec, ==, usec);
  g_assert_true (property_data == data);
  g_assert_false (property_derived);

  /* One line of QEMU's wire format, without "derived" for a real event. */
  text = qmp_event_to_string (event);
  g_assert_null (strchr (text, '\n'));
  g_assert_cmpstr (text, ==, "{\"event\":\"SHUTDOWN\",\"data\":{\"guest\":false,\"reason\":\"host-qmp-quit\"},"
                             "\"timestamp\":{\"seconds\":1795358840,\"microseconds\":569524}}");
  parsed = json_from_string (text, NULL);
  object = json_node_get_object (parsed);
  g_assert_false (json_object_has_member (object, "derived"));
  g_assert_true (json_object_equal (json_object_get_object_member (object, "data"), same));
}

/* Microseconds 0 and 999999, and the epoch itself, survive. */
static void
test_timestamp_edges (void)
{
  const gint64 stamps[] = { 0, 999999, G_USEC_PER_SEC, G_GINT64_CONSTANT (1795358840000000),
                            G_GINT64_CONSTANT (1795358840999999) };

  for (gsize i = 0; i < G_N_ELEMENTS (stamps); i++)
    {
      g_autoptr(QmpEvent) event = qmp_event_new ("X", stamps[i], NULL);
      g_autoptr(GDateTime) epoch = g_date_time_new_from_unix_utc (0);
      g_autoptr(GDateTime) expected = g_date_time_add (epoch, stamps[i]);
      g_autofree char *text = qmp_event_to_string (event);
      g_autofree char *stamp_text =
        g_strdup_printf ("\"timestamp\":{\"seconds\":%" G_GINT64_FORMAT ",\"microseconds\":%" G_GINT64_FORMAT "}",
                         stamps[i] / G_USEC_PER_SEC, stamps[i] % G_USEC_PER_SEC);

      g_assert_true (g_date_time_equal (qmp_event_get_timestamp (event), expected));
      g_assert_cmpint (g_date_time_get_microsecond (qmp_event_get_timestamp (event)), ==,
                       stamps[i] % G_USEC_PER_SEC);
      g_assert_nonnull (strstr (text, stamp_text));
    }
}

static void
test_no_timestamp (void)
{
  g_autoptr(QmpEvent) event = qmp_event_new ("STOP", -1, NULL);

  g_assert_null (qmp_event_get_timestamp (event));
  g_assert_cmpint (qmp_event_get_timestamp_usec (event), ==, -1);
  g_assert_cmpuint (json_object_get_size (qmp_event_get_data (event)), ==, 0);
}

typedef struct {
  guint n_io_errors, n_thresholds, n_nospace, n_report, n_qom_path;
} Recorded;

/* Every BLOCK_IO_ERROR and BLOCK_WRITE_THRESHOLD QEMU sent in the
 * recordings @names becomes the typed event the raw JSON says. */
static void
check_recorded_typed (const char * const *names,
                      Recorded           *seen)
{
  for (gsize n = 0; names[n] != NULL; n++)
    {
      g_autoptr(GPtrArray) records = qmp_test_load_transcript (names[n]);

      for (guint i = 0; i < records->len; i++)
        {
          QmpTestRecord *record = records->pdata[i];
          g_autoptr(JsonNode) node = NULL;
          g_autoptr(QmpEvent) event = NULL;
          JsonObject *object, *data, *ts;
          const char *name;

          if (record->sent)
            continue;
          node = json_from_string (record->raw, NULL);
          object = json_node_get_object (node);
          if (!json_object_has_member (object, "event"))
            continue;
          name = json_object_get_string_member (object, "event");
          data = json_object_has_member (object, "data") ?
                 json_object_get_object_member (object, "data") : NULL;
          ts = json_object_get_object_member (object, "timestamp");
          event = qmp_event_new (name, json_object_get_int_member (ts, "seconds") * G_USEC_PER_SEC +
                                 json_object_get_int_member (ts, "microseconds"), data);

          if (g_str_equal (name, "BLOCK_IO_ERROR"))
            {
              QmpBlockIoErrorEvent *e = QMP_BLOCK_IO_ERROR_EVENT (event);
              const char *action = json_object_get_string_member (data, "action");
              const char *operation = json_object_get_string_member (data, "operation");
              gboolean nospace = json_object_get_boolean_member_with_default (data, "nospace", FALSE);

              seen->n_io_errors++;
              g_assert_cmpstr (qmp_block_io_error_event_get_device (e), ==,
                               json_object_get_string_member (data, "device"));
              g_assert_cmpstr (qmp_block_io_error_event_get_node_name (e), ==,
                               json_object_get_string_member (data, "node-name"));
              g_assert_cmpstr (qmp_block_io_error_event_get_reason (e), ==,
                               json_object_get_string_member (data, "reason"));
              g_assert_cmpstr (qmp_block_io_error_event_get_action_string (e), ==, action);
              g_assert_cmpstr (qmp_block_io_error_event_get_operation_string (e), ==, operation);
              g_assert_cmpint (qmp_block_io_error_event_get_action (e), ==,
                               g_str_equal (action, "stop") ? QMP_BLOCK_ERROR_ACTION_STOP :
                               g_str_equal (action, "report") ? QMP_BLOCK_ERROR_ACTION_REPORT :
                               QMP_BLOCK_ERROR_ACTION_IGNORE);
              g_assert_cmpint (qmp_block_io_error_event_get_operation (e), ==,
                               g_str_equal (operation, "write") ? QMP_IO_OPERATION_WRITE : QMP_IO_OPERATION_READ);
              g_assert_cmpint (qmp_block_io_error_event_get_nospace (e), ==, nospace);
              if (json_object_has_member (data, "qom-path"))
                {
                  g_assert_cmpstr (qmp_block_io_error_event_get_qom_path (e), ==,
                                   json_object_get_string_member (data, "qom-path"));
                  seen->n_qom_path++;
                }
              else
                {
                  g_assert_null (qmp_block_io_error_event_get_qom_path (e));
                }
              seen->n_nospace += nospace;
              seen->n_report += g_str_equal (action, "report");
            }
          else if (g_str_equal (name, "BLOCK_WRITE_THRESHOLD"))
            {
              QmpWriteThresholdEvent *e = QMP_WRITE_THRESHOLD_EVENT (event);
              gint64 threshold = json_object_get_int_member (data, "write-threshold");
              gint64 amount = json_object_get_int_member (data, "amount-exceeded");

              seen->n_thresholds++;
              g_assert_cmpstr (qmp_write_threshold_event_get_node_name (e), ==,
                               json_object_get_string_member (data, "node-name"));
              g_assert_cmpuint (qmp_write_threshold_event_get_write_threshold (e), ==, threshold);
              g_assert_cmpuint (qmp_write_threshold_event_get_amount_exceeded (e), ==, amount);
              g_assert_cmpuint (qmp_write_threshold_event_get_end_offset (e), ==, threshold + amount);
            }
          else
            {
              g_assert_true (G_TYPE_FROM_INSTANCE (event) == QMP_TYPE_EVENT);
            }
        }
    }
}

static void
test_recorded_typed (void)
{
  const char *names[] = {
    "s2_write_threshold-tcg.jsonl", "s3_enospc_pause-tcg-virtio.jsonl", "s3_enospc_pause-tcg-drive.jsonl",
    "s4_extend_resume-tcg-virtio.jsonl", "s4b_blkdebug-tcg-blockdev.jsonl", "s5_reconnect-tcg-virtio.jsonl",
    "s6_event_rate-tcg-virtio.head3000.jsonl",
    NULL
  };
  Recorded seen = { 0, };

  check_recorded_typed (names, &seen);
  /* The recordings hold nospace pauses, werror=report storms and
   * thresholds; 7.2 does not say which device failed. */
  g_assert_cmpuint (seen.n_io_errors, >, 2000);
  g_assert_cmpuint (seen.n_nospace, >, 0);
  g_assert_cmpuint (seen.n_report, >, 2000);
  g_assert_cmpuint (seen.n_thresholds, >, 3);
  g_assert_cmpuint (seen.n_qom_path, ==, 0);
}

/* 10.0 names the device of every BLOCK_IO_ERROR, and sends at most one a
 * second per device: its werror=report storm (s6) is 4 events in 3 s. */
static void
test_recorded_typed_10_0 (void)
{
  const char *names[] = {
    "qemu-10.0/s2_write_threshold.jsonl", "qemu-10.0/s3_enospc_pause.jsonl", "qemu-10.0/s4_extend_resume.jsonl",
    "qemu-10.0/s5_reconnect.jsonl", "qemu-10.0/s6_event_rate.jsonl",
    NULL
  };
  Recorded seen = { 0, };

  check_recorded_typed (names, &seen);
  g_assert_cmpuint (seen.n_nospace, >, 0);
  g_assert_cmpuint (seen.n_report, ==, 4);
  g_assert_cmpuint (seen.n_thresholds, >, 3);
  g_assert_cmpuint (seen.n_qom_path, ==, seen.n_io_errors);
}

static void
test_unusual_payloads (void)
{
  /* A QEMU 9.2 payload with qom-path, unknown values and extra members. */
  {
    g_autoptr(JsonObject) data = object_from (
      "{\"device\": \"\", \"qom-path\": \"/machine/peripheral/datadisk/virtio-backend\","
      " \"node-name\": \"data-fmt\", \"operation\": \"trim\", \"action\": \"explode\","
      " \"nospace\": true, \"reason\": \"No space left on device\", \"new-member\": [1, 2]}");
    g_autoptr(QmpEvent) event = qmp_event_new ("BLOCK_IO_ERROR", 1, data);
    QmpBlockIoErrorEvent *e = QMP_BLOCK_IO_ERROR_EVENT (event);

    g_assert_cmpstr (qmp_block_io_error_event_get_qom_path (e), ==,
                     "/machine/peripheral/datadisk/virtio-backend");
    g_assert_cmpint (qmp_block_io_error_event_get_operation (e), ==, QMP_IO_OPERATION_UNKNOWN);
    g_assert_cmpstr (qmp_block_io_error_event_get_operation_string (e), ==, "trim");
    g_assert_cmpint (qmp_block_io_error_event_get_action (e), ==, QMP_BLOCK_ERROR_ACTION_UNKNOWN);
    g_assert_cmpstr (qmp_block_io_error_event_get_action_string (e), ==, "explode");
    g_assert_true (qmp_block_io_error_event_get_nospace (e));
  }

  /* Missing members and wrong types: documented defaults, no crash. */
  {
    g_autoptr(JsonObject) data = object_from (
      "{\"device\": 5, \"node-name\": null, \"nospace\": \"yes\", \"action\": [\"stop\"]}");
    g_autoptr(QmpEvent) event = qmp_event_new ("BLOCK_IO_ERROR", 1, data);
    QmpBlockIoErrorEvent *e = QMP_BLOCK_IO_ERROR_EVENT (event);

    g_assert_null (qmp_block_io_error_event_get_device (e));
    g_assert_null (qmp_block_io_error_event_get_node_name (e));
    g_assert_null (qmp_block_io_error_event_get_reason (e));
    g_assert_false (qmp_block_io_error_event_get_nospace (e));
    g_assert_cmpint (qmp_block_io_error_event_get_action (e), ==, QMP_BLOCK_ERROR_ACTION_UNKNOWN);
    g_assert_null (qmp_block_io_error_event_get_action_string (e));
    g_assert_cmpint (qmp_block_io_error_event_get_operation (e), ==, QMP_IO_OPERATION_UNKNOWN);
  }

  /* Thresholds: negative, past 2^63 and absent numbers. */
  {
    const char *payloads[] = {
      "{\"node-name\": \"n\", \"write-threshold\": -1, \"amount-exceeded\": 18446744073709551616}",
      "{\"node-name\": \"n\", \"write-threshold\": 1e30}",
      "{}",
    };

    for (gsize i = 0; i < G_N_ELEMENTS (payloads); i++)
      {
        g_autoptr(JsonObject) data = object_from (payloads[i]);
        g_autoptr(QmpEvent) event = qmp_event_new ("BLOCK_WRITE_THRESHOLD", 1, data);
        QmpWriteThresholdEvent *e = QMP_WRITE_THRESHOLD_EVENT (event);

        g_assert_cmpuint (qmp_write_threshold_event_get_write_threshold (e), ==, 0);
        g_assert_cmpuint (qmp_write_threshold_event_get_amount_exceeded (e), ==, QMP_AMOUNT_EXCEEDED_UNKNOWN);
        g_assert_cmpuint (qmp_write_threshold_event_get_end_offset (e), ==, 0);
      }
  }
}

/* The s6 storms replayed through a client: every event delivered once,
 * in order, with QEMU's timestamp and data, on the generic signal and, for
 * BLOCK_IO_ERROR, right after it on the typed one. */
typedef struct {
  const char *transcript;
  guint min_io_errors;          /* how many BLOCK_IO_ERROR it holds, at least */
} Storm;

/* 7.2 does not throttle BLOCK_IO_ERROR: the first 3000 events of a storm
 * of 3000 a second. */
static const Storm storm_7_2 = { "s6_event_rate-tcg-virtio.head3000.jsonl", 2500 };
/* 10.0 sends one a second: four, among STOP, RESUME, SHUTDOWN and a
 * throttled RTC_CHANGE storm of a second connection. */
static const Storm storm_10_0 = { "qemu-10.0/s6_event_rate.jsonl", 4 };

typedef struct {
  GPtrArray *events;            /* QmpEvent*, in delivery order */
  guint n_typed;
} StormLog;

static void
on_storm_event (QmpClient *client,
                QmpEvent  *event,
                gpointer   user_data)
{
  StormLog *log = user_data;

  g_ptr_array_add (log->events, g_object_ref (event));
}

static void
on_storm_typed (QmpClient            *client,
                QmpBlockIoErrorEvent *event,
                gpointer              user_data)
{
  StormLog *log = user_data;

  g_assert_true (log->events->len > 0 && log->events->pdata[log->events->len - 1] == (gpointer) event);
  log->n_typed++;
}

static gboolean
on_storm_guard (gpointer user_data)
{
  *(gboolean *) user_data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Replays the recorded storm in writes of about @write_size bytes; with
 * @chunk_size, the client's reads return at most that many bytes, so lines
 * are split at every kind of offset. */
static void
replay_storm (const Storm *storm,
              gsize        write_size,
              gsize        chunk_size)
{
  g_autoptr(QmpFakeServer) server = qmp_fake_server_new ();
  g_autoptr(QmpClient) client = qmp_client_new (qmp_fake_server_get_address (server));
  g_autoptr(GPtrArray) records = qmp_test_load_transcript (storm->transcript);
  g_autoptr(GPtrArray) expected = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  g_autoptr(GString) chunk = g_string_new (NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSource) guard = g_timeout_source_new_seconds (60);
  StormLog log = { g_ptr_array_new_with_free_func (g_object_unref), 0 };
  guint n_io_errors = 0;
  gboolean expired = FALSE;

  g_signal_connect (client, "event", G_CALLBACK (on_storm_event), &log);
  g_signal_connect (client, "block-io-error", G_CALLBACK (on_storm_typed), &log);
  g_assert_true (qmp_client_connect_sync (client, NULL, &error));
  g_assert_no_error (error);
  if (chunk_size > 0)
    qmp_fake_server_set_chunk_size (server, chunk_size);

  /* Only what QEMU sent matters, and of it only the events: the replies
   * answer commands of the recording's own client. */
  for (guint i = 0; i < records->len; i++)
    {
      QmpTestRecord *record = records->pdata[i];
      g_autoptr(JsonNode) node = NULL;
      JsonObject *object;

      if (record->sent)
        continue;
      node = json_from_string (record->raw, &error);
      g_assert_no_error (error);
      object = json_node_get_object (node);
      if (!json_object_has_member (object, "event"))
        continue;
      n_io_errors += g_str_equal (json_object_get_string_member (object, "event"), "BLOCK_IO_ERROR");
      g_ptr_array_add (expected, g_steal_pointer (&node));
      g_string_append (chunk, record->raw);
      if (chunk->len >= write_size)
        {
          qmp_fake_server_send (server, chunk->str);
          g_string_truncate (chunk, 0);
        }
    }
  if (chunk->len > 0)
    qmp_fake_server_send (server, chunk->str);
  g_assert_cmpuint (n_io_errors, >=, storm->min_io_errors);

  g_source_set_callback (guard, on_storm_guard, &expired, NULL);
  g_source_attach (guard, NULL);
  while (log.events->len < expected->len)
    {
      g_assert_false (expired);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_destroy (guard);

  g_assert_cmpuint (log.events->len, ==, expected->len);
  for (guint i = 0; i < expected->len; i++)
    {
      JsonObject *object = json_node_get_object (expected->pdata[i]);
      JsonObject *ts = json_object_get_object_member (object, "timestamp");
      gint64 usec = json_object_get_int_member (ts, "seconds") * G_USEC_PER_SEC +
                    json_object_get_int_member (ts, "microseconds");
      QmpEvent *event = log.events->pdata[i];
      GDateTime *timestamp = qmp_event_get_timestamp (event);

      g_assert_cmpstr (qmp_event_get_name (event), ==, json_object_get_string_member (object, "event"));
      g_assert_cmpint (qmp_event_get_timestamp_usec (event), ==, usec);
      g_assert_cmpint (g_date_time_to_unix (timestamp), ==, json_object_get_int_member (ts, "seconds"));
      g_assert_cmpint (g_date_time_get_microsecond (timestamp), ==, json_object_get_int_member (ts, "microseconds"));
      g_assert_false (qmp_event_get_derived (event));
      if (json_object_has_member (object, "data"))
        g_assert_true (json_object_equal (qmp_event_get_data (event),
                                          json_object_get_object_member (object, "data")));
      else
        g_assert_cmpuint (json_object_get_size (qmp_event_get_data (event)), ==, 0);
    }
  g_assert_cmpuint (log.n_typed, ==, n_io_errors);
  g_assert_cmpint (qmp_client_get_state (client), ==, QMP_CLIENT_STATE_READY);
  g_ptr_array_unref (log.events);
}

static void
test_storm (gconstpointer data)
{
  replay_storm (data, 256 * 1024, 0);
}

/* Pieces of a prime size: lines split everywhere. */
static void
test_storm_split (gconstpointer data)
{
  replay_storm (data, 16 * 1024, 4093);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/qmp/event/base", test_base);
  g_test_add_func ("/qmp/event/timestamp-edges", test_timestamp_edges);
  g_test_add_func ("/qmp/event/no-timestamp", test_no_timestamp);
  g_test_add_func ("/qmp/event/recorded-typed/qemu-7.2", test_recorded_typed);
  g_test_add_func ("/qmp/event/recorded-typed/qemu-10.0", test_recorded_typed_10_0);
  g_test_add_func ("/qmp/event/unusual-payloads", test_unusual_payloads);
  g_test_add_data_func ("/qmp/event/storm/qemu-7.2", &storm_7_2, test_storm);
  g_test_add_data_func ("/qmp/event/storm/qemu-10.0", &storm_10_0, test_storm);
  g_test_add_data_func ("/qmp/event/storm-split/qemu-7.2", &storm_7_2, test_storm_split);
  g_test_add_data_func ("/qmp/event/storm-split/qemu-10.0", &storm_10_0, test_storm_split);

  return g_test_run ();
}
