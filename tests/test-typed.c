/* test-typed.c: typed query results and command wrappers
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include <qmpthin/qmpthin.h>

#include "qmp-fake-server.h"
#include "qmp-test-util.h"

/* Pairs each reply QEMU sent in a recording with the command it answers. */
static void
for_each_reply (const char *name,
                void      (*func) (const char *command, JsonNode *value, gpointer user_data),
                gpointer    user_data)
{
  g_autoptr(GPtrArray) records = qmp_test_load_transcript (name);
  g_autoptr(GHashTable) commands = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);

  for (guint i = 0; i < records->len; i++)
    {
      QmpTestRecord *record = records->pdata[i];
      g_autoptr(JsonNode) node = json_from_string (record->raw, NULL);
      JsonObject *object = json_node_get_object (node);
      JsonNode *id = json_object_get_member (object, "id");
      g_autofree char *key = id ? json_to_string (id, FALSE) : NULL;

      if (key == NULL)
        continue;
      if (record->sent)
        g_hash_table_insert (commands, g_steal_pointer (&key),
                             g_strdup (json_object_get_string_member (object, "execute")));
      else if (json_object_has_member (object, "return"))
        func (g_hash_table_lookup (commands, key), json_object_get_member (object, "return"), user_data);
    }
}

typedef struct {
  guint n_status, n_block, n_stats, n_nodes;
  guint n_nospace, n_named_device, n_threshold_armed, n_offsets, n_parents;
} Seen;

static void
check_reply (const char *command,
             JsonNode   *value,
             gpointer    user_data)
{
  Seen *seen = user_data;
  g_autoptr(GError) error = NULL;

  if (g_strcmp0 (command, "query-status") == 0)
    {
      JsonObject *object = json_node_get_object (value);
      g_autoptr(QmpStatusInfo) info = qmp_status_info_new_from_json (object, &error);
      g_autoptr(GEnumClass) klass = g_type_class_ref (QMP_TYPE_RUN_STATE);
      const char *status = json_object_get_string_member (object, "status");

      g_assert_no_error (error);
      seen->n_status++;
      g_assert_cmpstr (qmp_status_info_get_status_string (info), ==, status);
      g_assert_cmpint (qmp_status_info_get_running (info), ==,
                       json_object_get_boolean_member (object, "running"));
      g_assert_cmpstr (g_enum_get_value (klass, qmp_status_info_get_status (info))->value_nick, ==, status);
    }
  else if (g_strcmp0 (command, "query-block") == 0)
    {
      JsonArray *array = json_node_get_array (value);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonObject *object = json_array_get_object_element (array, i);
          JsonObject *inserted = json_object_get_object_member (object, "inserted");
          g_autoptr(QmpBlockInfo) info = qmp_block_info_new_from_json (object, &error);
          const char *io_status = json_object_get_string_member_with_default (object, "io-status", NULL);

          g_assert_no_error (error);
          seen->n_block++;
          g_assert_cmpstr (qmp_block_info_get_device (info), ==, json_object_get_string_member (object, "device"));
          g_assert_cmpstr (qmp_block_info_get_qdev (info), ==, json_object_get_string_member (object, "qdev"));
          g_assert_cmpstr (qmp_block_info_get_node_name (info), ==,
                           json_object_get_string_member (inserted, "node-name"));
          g_assert_cmpuint (qmp_block_info_get_write_threshold (info), ==,
                            json_object_get_int_member (inserted, "write_threshold"));
          g_assert_cmpstr (qmp_block_info_get_io_status_string (info), ==, io_status);
          if (io_status == NULL)
            g_assert_cmpint (qmp_block_info_get_io_status (info), ==, QMP_IO_STATUS_NONE);
          else if (g_str_equal (io_status, "nospace"))
            {
              g_assert_cmpint (qmp_block_info_get_io_status (info), ==, QMP_IO_STATUS_NOSPACE);
              seen->n_nospace++;
            }
          else if (g_str_equal (io_status, "ok"))
            g_assert_cmpint (qmp_block_info_get_io_status (info), ==, QMP_IO_STATUS_OK);
          else
            g_assert_cmpint (qmp_block_info_get_io_status (info), ==, QMP_IO_STATUS_FAILED);
          if (*qmp_block_info_get_device (info) != '\0')
            seen->n_named_device++;
        }
    }
  else if (g_strcmp0 (command, "query-blockstats") == 0)
    {
      JsonArray *array = json_node_get_array (value);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonObject *object = json_array_get_object_element (array, i);
          g_autoptr(QmpBlockStats) stats = qmp_block_stats_new_from_json (object, &error);

          g_assert_no_error (error);
          seen->n_stats++;
          g_assert_cmpstr (qmp_block_stats_get_node_name (stats), ==,
                           json_object_get_string_member_with_default (object, "node-name", NULL));
          g_assert_cmpuint (qmp_block_stats_get_wr_highest_offset (stats), ==,
                            json_object_get_int_member (json_object_get_object_member (object, "stats"),
                                                        "wr_highest_offset"));
          if (qmp_block_stats_get_wr_highest_offset (stats) > 0)
            seen->n_offsets++;

          /* The chain of file children and backing images, as recorded. */
          for (QmpBlockStats *child = qmp_block_stats_get_parent (stats); child != NULL;
               child = qmp_block_stats_get_parent (child))
            {
              object = json_object_get_object_member (object, "parent");
              g_assert_cmpstr (qmp_block_stats_get_node_name (child), ==,
                               json_object_get_string_member_with_default (object, "node-name", NULL));
              g_assert_null (qmp_block_stats_get_backing (child));
              seen->n_parents++;
            }
          g_assert_null (qmp_block_stats_get_backing (stats));
        }
    }
  else if (g_strcmp0 (command, "query-named-block-nodes") == 0)
    {
      JsonArray *array = json_node_get_array (value);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonObject *object = json_array_get_object_element (array, i);
          g_autoptr(QmpBlockNode) node = qmp_block_node_new_from_json (object, &error);

          g_assert_no_error (error);
          seen->n_nodes++;
          g_assert_cmpstr (qmp_block_node_get_node_name (node), ==, json_object_get_string_member (object, "node-name"));
          g_assert_cmpstr (qmp_block_node_get_driver (node), ==, json_object_get_string_member (object, "drv"));
          g_assert_cmpuint (qmp_block_node_get_write_threshold (node), ==,
                            json_object_get_int_member (object, "write_threshold"));
          if (qmp_block_node_get_write_threshold (node) > 0)
            seen->n_threshold_armed++;
        }
    }
}

static void
check_recorded_replies (const char * const *names,
                        Seen               *seen)
{
  for (gsize n = 0; names[n] != NULL; n++)
    for_each_reply (names[n], check_reply, seen);

  g_assert_cmpuint (seen->n_status, >, 3);
  g_assert_cmpuint (seen->n_block, >, 3);
  g_assert_cmpuint (seen->n_stats, >, 3);
  g_assert_cmpuint (seen->n_nodes, >, 3);
  /* The recordings hold a nospace pause, armed thresholds and allocation
   * high-water marks. */
  g_assert_cmpuint (seen->n_nospace, >, 0);
  g_assert_cmpuint (seen->n_threshold_armed, >, 0);
  g_assert_cmpuint (seen->n_offsets, >, 0);
  g_assert_cmpuint (seen->n_parents, >, 0);
}

static void
test_recorded_replies (void)
{
  const char *names[] = {
    "s2_write_threshold-tcg.jsonl", "s3_enospc_pause-tcg-virtio.jsonl", "s3_enospc_pause-tcg-drive.jsonl",
    "s4_extend_resume-tcg-virtio.jsonl", "s4b_blkdebug-tcg-blockdev.jsonl", "s5_reconnect-tcg-virtio.jsonl",
    NULL
  };
  Seen seen = { 0, };

  check_recorded_replies (names, &seen);
  /* And a -drive, which names its device. */
  g_assert_cmpuint (seen.n_named_device, >, 0);
}

/* 10.0's replies: query-status without "singlestep", the rest as in 7.2
 * with members of its own. All its disks are -blockdev, without a name. */
static void
test_recorded_replies_10_0 (void)
{
  const char *names[] = {
    "qemu-10.0/s2_write_threshold.jsonl", "qemu-10.0/s3_enospc_pause.jsonl", "qemu-10.0/s4_extend_resume.jsonl",
    "qemu-10.0/s5_reconnect.jsonl", "qemu-10.0/s6_event_rate.jsonl",
    NULL
  };
  Seen seen = { 0, };

  check_recorded_replies (names, &seen);
  g_assert_cmpuint (seen.n_named_device, ==, 0);
}

static JsonObject *
object_from (const char *text)
{
  g_autoptr(JsonNode) node = json_from_string (text, NULL);

  return json_object_ref (json_node_get_object (node));
}

static void
test_robust (void)
{
  g_autoptr(GError) error = NULL;

  {
    g_autoptr(JsonObject) object = object_from ("{\"status\": \"hibernating\", \"running\": false, \"new\": 1}");
    g_autoptr(QmpStatusInfo) info = qmp_status_info_new_from_json (object, &error);

    g_assert_no_error (error);
    g_assert_cmpint (qmp_status_info_get_status (info), ==, QMP_RUN_STATE_UNKNOWN);
    g_assert_cmpstr (qmp_status_info_get_status_string (info), ==, "hibernating");
  }
  {
    g_autoptr(JsonObject) object = object_from ("{\"status\": \"running\"}");
    g_autoptr(QmpStatusInfo) info = qmp_status_info_new_from_json (object, &error);

    g_assert_null (info);
    g_assert_error (error, QMP_ERROR, QMP_ERROR_PROTOCOL);
    g_clear_error (&error);
  }
  {
    g_autoptr(JsonObject) object = object_from ("{\"device\": \"d\", \"io-status\": \"weird\", \"inserted\": 3}");
    g_autoptr(QmpBlockInfo) info = qmp_block_info_new_from_json (object, &error);

    g_assert_no_error (error);
    g_assert_cmpint (qmp_block_info_get_io_status (info), ==, QMP_IO_STATUS_UNKNOWN);
    g_assert_cmpstr (qmp_block_info_get_io_status_string (info), ==, "weird");
    g_assert_false (qmp_block_info_get_inserted (info));
    g_assert_null (qmp_block_info_get_node_name (info));
  }
  {
    g_autoptr(JsonObject) object = object_from ("{\"io-status\": \"ok\"}");
    g_autoptr(QmpBlockInfo) info = qmp_block_info_new_from_json (object, &error);

    g_assert_null (info);
    g_assert_error (error, QMP_ERROR, QMP_ERROR_PROTOCOL);
    g_clear_error (&error);
  }
  {
    g_autoptr(JsonObject) object = object_from ("{\"node-name\": \"n\", \"stats\": {\"wr_highest_offset\": -5}}");
    g_autoptr(QmpBlockStats) stats = qmp_block_stats_new_from_json (object, &error);

    g_assert_no_error (error);
    g_assert_cmpuint (qmp_block_stats_get_wr_highest_offset (stats), ==, 0);
  }
  {
    g_autoptr(JsonObject) object = object_from ("{\"node-name\": 4}");
    g_autoptr(QmpBlockNode) node = qmp_block_node_new_from_json (object, &error);

    g_assert_null (node);
    g_assert_error (error, QMP_ERROR, QMP_ERROR_PROTOCOL);
  }
}

static void
test_wrappers (void)
{
  g_autoptr(QmpFakeServer) server = qmp_fake_server_new ();
  g_autoptr(QmpClient) client = qmp_client_new (qmp_fake_server_get_address (server));
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpStatusInfo) status = NULL;
  g_autoptr(GPtrArray) blocks = NULL;
  g_autoptr(GPtrArray) nodes = NULL;
  g_autoptr(GPtrArray) stats = NULL;
  JsonObject *request;
  JsonObject *arguments;

  g_assert_true (qmp_client_connect_sync (client, NULL, &error));
  /* qmp_capabilities, then resync's query-status. */
  for (guint i = 0; i < 2; i++)
    json_object_unref (qmp_fake_server_pop_request (server, 5000));

  qmp_fake_server_set_reply (server, "query-status",
                             "{\"return\": {\"status\": \"io-error\", \"singlestep\": false, \"running\": false}}");
  status = qmp_client_query_status_sync (client, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpint (qmp_status_info_get_status (status), ==, QMP_RUN_STATE_IO_ERROR);
  json_object_unref (qmp_fake_server_pop_request (server, 5000));

  qmp_fake_server_set_reply (server, "query-block",
                             "{\"return\": [{\"io-status\": \"nospace\", \"device\": \"\", \"qdev\": \"datadisk\","
                             " \"inserted\": {\"node-name\": \"data-fmt\", \"write_threshold\": 0}}]}");
  blocks = qmp_client_query_block_sync (client, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (blocks->len, ==, 1);
  g_assert_cmpint (qmp_block_info_get_io_status (blocks->pdata[0]), ==, QMP_IO_STATUS_NOSPACE);
  json_object_unref (qmp_fake_server_pop_request (server, 5000));

  qmp_fake_server_set_reply (server, "query-named-block-nodes",
                             "{\"return\": [{\"node-name\": \"data-file\", \"drv\": \"file\", \"write_threshold\": 1048576}]}");
  nodes = qmp_client_query_named_block_nodes_sync (client, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (qmp_block_node_get_write_threshold (nodes->pdata[0]), ==, 1048576);
  request = qmp_fake_server_pop_request (server, 5000);
  g_assert_true (json_object_get_boolean_member (json_object_get_object_member (request, "arguments"), "flat"));
  json_object_unref (request);

  qmp_fake_server_set_reply (server, "query-blockstats",
                             "{\"return\": [{\"node-name\": \"data-file\", \"stats\": {\"wr_highest_offset\": 2424832}}]}");
  stats = qmp_client_query_blockstats_sync (client, TRUE, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (qmp_block_stats_get_wr_highest_offset (stats->pdata[0]), ==, 2424832);
  request = qmp_fake_server_pop_request (server, 5000);
  g_assert_true (json_object_get_boolean_member (json_object_get_object_member (request, "arguments"), "query-nodes"));
  json_object_unref (request);

  /* Arming sends exactly the node and the threshold. */
  qmp_fake_server_set_reply (server, "block-set-write-threshold", "{\"return\": {}}");
  g_assert_true (qmp_client_set_write_threshold_sync (client, "data-file", G_GUINT64_CONSTANT (6442450944), NULL, &error));
  g_assert_no_error (error);
  request = qmp_fake_server_pop_request (server, 5000);
  arguments = json_object_get_object_member (request, "arguments");
  g_assert_cmpuint (json_object_get_size (arguments), ==, 2);
  g_assert_cmpstr (json_object_get_string_member (arguments, "node-name"), ==, "data-file");
  g_assert_cmpint (json_object_get_int_member (arguments, "write-threshold"), ==, G_GINT64_CONSTANT (6442450944));
  json_object_unref (request);

  qmp_fake_server_set_reply (server, "block-set-write-threshold",
                             "{\"error\": {\"class\": \"GenericError\", \"desc\": \"Device 'nosuch' not found\"}}");
  g_assert_false (qmp_client_set_write_threshold_sync (client, "nosuch", 1, NULL, &error));
  g_assert_error (error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_GENERIC_ERROR);
  g_assert_cmpstr (error->message, ==, "Device 'nosuch' not found");
  g_clear_error (&error);
  json_object_unref (qmp_fake_server_pop_request (server, 5000));

  qmp_fake_server_set_reply (server, "cont", "{\"return\": {}}");
  qmp_fake_server_set_reply (server, "stop", "{\"return\": {}}");
  g_assert_true (qmp_client_cont_sync (client, NULL, &error));
  request = qmp_fake_server_pop_request (server, 5000);
  g_assert_cmpstr (json_object_get_string_member (request, "execute"), ==, "cont");
  json_object_unref (request);
  g_assert_true (qmp_client_stop_sync (client, NULL, &error));
  request = qmp_fake_server_pop_request (server, 5000);
  g_assert_cmpstr (json_object_get_string_member (request, "execute"), ==, "stop");
  json_object_unref (request);

  /* A malformed reply to a typed query is a protocol error of that call only. */
  qmp_fake_server_set_reply (server, "query-status", "{\"return\": [1]}");
  g_clear_object (&status);
  status = qmp_client_query_status_sync (client, NULL, &error);
  g_assert_null (status);
  g_assert_error (error, QMP_ERROR, QMP_ERROR_PROTOCOL);
  g_assert_cmpint (qmp_client_get_state (client), ==, QMP_CLIENT_STATE_READY);
}

static void
test_async_wrappers (void)
{
  g_autoptr(QmpFakeServer) server = qmp_fake_server_new ();
  g_autoptr(QmpClient) client = qmp_client_new (qmp_fake_server_get_address (server));
  g_autoptr(GAsyncResult) r1 = NULL;
  g_autoptr(GAsyncResult) r2 = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(QmpStatusInfo) status = NULL;
  g_autoptr(GPtrArray) blocks = NULL;

  g_assert_true (qmp_client_connect_sync (client, NULL, &error));
  qmp_fake_server_set_reply (server, "query-status", "{\"return\": {\"status\": \"paused\", \"running\": false}}");
  qmp_fake_server_set_reply (server, "query-block", "{\"return\": []}");
  qmp_client_query_status_async (client, NULL, qmp_test_store_result, &r1);
  qmp_client_query_block_async (client, NULL, qmp_test_store_result, &r2);
  while (r1 == NULL || r2 == NULL)
    g_main_context_iteration (NULL, TRUE);
  status = qmp_client_query_status_finish (client, r1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (qmp_status_info_get_status (status), ==, QMP_RUN_STATE_PAUSED);
  blocks = qmp_client_query_block_finish (client, r2, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (blocks->len, ==, 0);
}

int
main (int    argc,
      char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/qmp/typed/recorded-replies/qemu-7.2", test_recorded_replies);
  g_test_add_func ("/qmp/typed/recorded-replies/qemu-10.0", test_recorded_replies_10_0);
  g_test_add_func ("/qmp/typed/robust", test_robust);
  g_test_add_func ("/qmp/typed/wrappers", test_wrappers);
  g_test_add_func ("/qmp/typed/async-wrappers", test_async_wrappers);

  return g_test_run ();
}
