/* fuzz-message.c: messages, typed events and typed query results
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * The input is what QEMU sends. It goes the way the client takes: framed
 * into lines (which refuses lines that nest too deep for json-glib), each
 * line parsed and classified as a greeting, a reply, an error or an event.
 * Every event becomes a typed event and every reply value is read as each
 * typed query result, and every accessor and property of what comes out is
 * read.
 *
 * Invariants checked besides "no crash, no leak":
 * - an event serialised with qmp_event_to_string() parses back as an event
 *   of the same name, timestamp and data;
 * - a reply value sent back as a command's arguments
 *   (_qmp_message_build_command()) is one line of valid JSON;
 * - every line the library's JSON reader accepts, json-glib's parser
 *   accepts too, into the same tree (json-glib takes more: that is why
 *   the library does not use it).
 */

#include <math.h>
#include <string.h>

#include <qmpthin/qmpthin.h>

#include "qmp-json-reader.h"
#include "qmp-stream.h"
#include "qmp-message.h"
#include "fuzz-common.h"

static void
check_event (QmpMessageParser *parser,
             QmpMessage       *message)
{
  g_autoptr(QmpEvent) event = NULL;
  g_autoptr(QmpMessage) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  GDateTime *timestamp;

  event = qmp_event_new (message->event_name, message->timestamp_usec, message->event_data);
  g_assert_nonnull (event);
  g_assert_cmpstr (qmp_event_get_name (event), ==, message->event_name);
  g_assert_cmpint (qmp_event_get_timestamp_usec (event), ==, message->timestamp_usec);
  g_assert_nonnull (qmp_event_get_data (event));
  g_assert_false (qmp_event_get_derived (event));
  timestamp = qmp_event_get_timestamp (event);
  g_assert_true (timestamp != NULL || message->timestamp_usec < 0);
  fuzz_read_all_properties (event);

  if (QMP_IS_BLOCK_IO_ERROR_EVENT (event))
    {
      QmpBlockIoErrorEvent *e = QMP_BLOCK_IO_ERROR_EVENT (event);

      (void) qmp_block_io_error_event_get_device (e);
      (void) qmp_block_io_error_event_get_node_name (e);
      (void) qmp_block_io_error_event_get_qom_path (e);
      (void) qmp_block_io_error_event_get_operation (e);
      (void) qmp_block_io_error_event_get_operation_string (e);
      (void) qmp_block_io_error_event_get_action (e);
      (void) qmp_block_io_error_event_get_action_string (e);
      (void) qmp_block_io_error_event_get_nospace (e);
      (void) qmp_block_io_error_event_get_reason (e);
    }
  else if (QMP_IS_WRITE_THRESHOLD_EVENT (event))
    {
      QmpWriteThresholdEvent *e = QMP_WRITE_THRESHOLD_EVENT (event);
      guint64 threshold = qmp_write_threshold_event_get_write_threshold (e);

      (void) qmp_write_threshold_event_get_node_name (e);
      (void) qmp_write_threshold_event_get_amount_exceeded (e);
      g_assert_cmpuint (qmp_write_threshold_event_get_end_offset (e), >=, threshold);
    }

  /* The log form is QEMU's wire format: it must read back the same. */
  text = qmp_event_to_string (event);
  again = _qmp_message_parser_parse (parser, text, -1, &error);
  g_assert_no_error (error);
  g_assert_cmpint (again->kind, ==, QMP_MESSAGE_EVENT);
  g_assert_cmpstr (again->event_name, ==, message->event_name);
  g_assert_cmpint (again->timestamp_usec, ==, message->timestamp_usec);
  g_assert_nonnull (again->event_data);
  if (message->event_data != NULL)
    {
      g_autoptr(JsonNode) a = json_node_init_object (json_node_alloc (), message->event_data);
      g_autoptr(JsonNode) b = json_node_init_object (json_node_alloc (), again->event_data);

      g_assert_true (json_node_equal (a, b));
    }
}

typedef gpointer (*NewFromJson) (JsonObject *object,
                                 GError    **error);

static void
check_typed (JsonObject *object)
{
  static const NewFromJson parsers[] = {
    (NewFromJson) qmp_status_info_new_from_json,
    (NewFromJson) qmp_block_info_new_from_json,
    (NewFromJson) qmp_block_stats_new_from_json,
    (NewFromJson) qmp_block_node_new_from_json,
  };

  for (gsize i = 0; i < G_N_ELEMENTS (parsers); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GObject) result = parsers[i] (object, &error);

      if (result == NULL)
        {
          g_assert_nonnull (error);
          g_assert_true (error->domain == QMP_ERROR);
          continue;
        }
      g_assert_no_error (error);
      fuzz_read_all_properties (result);

      if (QMP_IS_STATUS_INFO (result))
        {
          QmpStatusInfo *info = QMP_STATUS_INFO (result);

          (void) qmp_status_info_get_running (info);
          (void) qmp_stop_kind_from_run_state (qmp_status_info_get_status (info));
          g_assert_nonnull (qmp_status_info_get_status_string (info));
          g_assert_true (qmp_status_info_get_json (info) == object);
        }
      else if (QMP_IS_BLOCK_INFO (result))
        {
          QmpBlockInfo *info = QMP_BLOCK_INFO (result);

          g_assert_nonnull (qmp_block_info_get_device (info));
          (void) qmp_block_info_get_qdev (info);
          (void) qmp_block_info_get_node_name (info);
          (void) qmp_block_info_get_inserted (info);
          (void) qmp_block_info_get_io_status (info);
          (void) qmp_block_info_get_io_status_string (info);
          (void) qmp_block_info_get_write_threshold (info);
          g_assert_true (qmp_block_info_get_json (info) == object);
        }
      else if (QMP_IS_BLOCK_STATS (result))
        {
          QmpBlockStats *stats = QMP_BLOCK_STATS (result);

          /* Walk the chains the way an agent looks for the storage node. */
          for (QmpBlockStats *s = stats; s != NULL; s = qmp_block_stats_get_parent (s))
            {
              (void) qmp_block_stats_get_device (s);
              (void) qmp_block_stats_get_node_name (s);
              (void) qmp_block_stats_get_qdev (s);
              (void) qmp_block_stats_get_wr_highest_offset (s);
              g_assert_nonnull (qmp_block_stats_get_json (s));
            }
          for (QmpBlockStats *s = stats; s != NULL; s = qmp_block_stats_get_backing (s))
            fuzz_read_all_properties (s);
        }
      else if (QMP_IS_BLOCK_NODE (result))
        {
          QmpBlockNode *node = QMP_BLOCK_NODE (result);

          g_assert_nonnull (qmp_block_node_get_node_name (node));
          (void) qmp_block_node_get_driver (node);
          (void) qmp_block_node_get_filename (node);
          (void) qmp_block_node_get_write_threshold (node);
          g_assert_true (qmp_block_node_get_json (node) == object);
        }
    }
}

static void
check_value (JsonNode *value)
{
  if (JSON_NODE_HOLDS_OBJECT (value))
    {
      JsonObject *object = json_node_get_object (value);
      g_autoptr(JsonParser) parser = json_parser_new ();
      g_autoptr(GError) error = NULL;
      g_autofree char *line = NULL;
      gsize length;

      check_typed (object);

      /* The same object as a command's arguments, as a caller may pass
       * what QEMU returned: one line of valid JSON. */
      line = _qmp_message_build_command ("fuzz", object, "qmpthin-1", &length);
      g_assert_cmpuint (length, ==, strlen (line));
      g_assert_cmpint (line[length - 1], ==, '\n');
      g_assert_null (memchr (line, '\n', length - 1));
      g_assert_true (json_parser_load_from_data (parser, line, length, &error));
      g_assert_no_error (error);
    }
  else if (JSON_NODE_HOLDS_ARRAY (value))
    {
      JsonArray *array = json_node_get_array (value);

      for (guint i = 0; i < json_array_get_length (array); i++)
        {
          JsonNode *element = json_array_get_element (array, i);

          if (JSON_NODE_HOLDS_OBJECT (element))
            check_typed (json_node_get_object (element));
        }
    }
}

static void
check_message (QmpMessageParser *parser,
               QmpMessage       *message)
{
  g_autofree char *id = _qmp_message_id_to_string (message->id);

  g_assert_nonnull (id);
  g_assert_nonnull (message->root);
  g_assert_true (_qmp_message_id_equal (message->id, message->id));

  switch (message->kind)
    {
    case QMP_MESSAGE_GREETING:
      g_assert_nonnull (message->capabilities);
      for (guint i = 0; i < json_array_get_length (message->capabilities); i++)
        g_assert_nonnull (json_array_get_string_element (message->capabilities, i));
      break;
    case QMP_MESSAGE_RETURN:
      g_assert_nonnull (message->value);
      check_value (message->value);
      break;
    case QMP_MESSAGE_ERROR:
      {
        g_autoptr(GError) error = NULL;
        QmpCommandError code;

        g_assert_nonnull (message->error_class);
        g_assert_nonnull (message->error_desc);
        code = qmp_command_error_from_class (message->error_class);
        /* A copy of the error (as bindings make) keeps a known class. */
        error = g_error_new_literal (QMP_COMMAND_ERROR, code, message->error_desc);
        if (code != QMP_COMMAND_ERROR_UNKNOWN)
          g_assert_cmpstr (qmp_command_error_get_class_name (error), ==, message->error_class);
      }
      break;
    case QMP_MESSAGE_EVENT:
      g_assert_nonnull (message->event_name);
      check_event (parser, message);
      break;
    default:
      g_assert_not_reached ();
    }
}

/* Whether @ours, read by the library, is the tree json-glib read as
 * @theirs: the same nodes, values and member order. json-glib reads an
 * integer past a gint64 wrapped round; the library, as a double. */
static gboolean
same_tree (JsonNode *ours,
           JsonNode *theirs)
{
  if (JSON_NODE_TYPE (ours) != JSON_NODE_TYPE (theirs))
    return FALSE;
  switch (JSON_NODE_TYPE (ours))
    {
    case JSON_NODE_OBJECT:
      {
        JsonObject *a = json_node_get_object (ours);
        JsonObject *b = json_node_get_object (theirs);
        g_autoptr(GList) names_a = json_object_get_members (a);
        g_autoptr(GList) names_b = json_object_get_members (b);
        GList *l, *m;

        for (l = names_a, m = names_b; l != NULL && m != NULL; l = l->next, m = m->next)
          if (!g_str_equal (l->data, m->data) ||
              !same_tree (json_object_get_member (a, l->data), json_object_get_member (b, m->data)))
            return FALSE;
        return l == NULL && m == NULL;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *a = json_node_get_array (ours);
        JsonArray *b = json_node_get_array (theirs);

        if (json_array_get_length (a) != json_array_get_length (b))
          return FALSE;
        for (guint i = 0; i < json_array_get_length (a); i++)
          if (!same_tree (json_array_get_element (a, i), json_array_get_element (b, i)))
            return FALSE;
        return TRUE;
      }
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (ours) == G_TYPE_DOUBLE &&
          json_node_get_value_type (theirs) == G_TYPE_INT64)
        return fabs (json_node_get_double (ours)) >= 9223372036854775808.0;
      return json_node_equal (ours, theirs);
    case JSON_NODE_NULL:
    default:
      return TRUE;
    }
}

static void
check_same_tree (QmpJsonReader *reader,
                 JsonParser    *json_glib,
                 const char    *line,
                 gsize          length)
{
  g_autoptr(JsonNode) ours = _qmp_json_reader_read (reader, line, length, NULL);
  g_autoptr(GError) error = NULL;

  if (ours == NULL)
    return;
  g_assert_true (json_parser_load_from_data (json_glib, line, length, &error));
  g_assert_no_error (error);
  g_assert_true (same_tree (ours, json_parser_get_root (json_glib)));
}

typedef struct {
  QmpMessageParser *parser;
  QmpJsonReader *reader;
  JsonParser *json_glib;
  guint n_lines;
} Context;

static gboolean
on_line (const char *line,
         gsize       length,
         gpointer    user_data)
{
  Context *ctx = user_data;
  g_autoptr(QmpMessage) message = NULL;
  g_autoptr(GError) error = NULL;

  /* Bound the work per input: long transcripts say nothing new. */
  if (++ctx->n_lines > 64)
    return FALSE;

  check_same_tree (ctx->reader, ctx->json_glib, line, length);
  message = _qmp_message_parser_parse (ctx->parser, line, length, &error);
  if (message == NULL)
    {
      g_assert_nonnull (error);
      g_assert_true (error->domain == QMP_ERROR);
      return TRUE;
    }
  g_assert_no_error (error);
  check_message (ctx->parser, message);
  return TRUE;
}

int
LLVMFuzzerInitialize (int    *argc,
                      char ***argv)
{
  fuzz_setup_logging ();
  return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data,
                        size_t         size)
{
  g_autoptr(QmpStream) stream = _qmp_stream_new (QMP_CLIENT_DEFAULT_MAX_MESSAGE_SIZE);
  g_autoptr(QmpMessageParser) parser = _qmp_message_parser_new ();
  g_autoptr(QmpJsonReader) reader = _qmp_json_reader_new (QMP_STREAM_DEFAULT_MAX_DEPTH);
  g_autoptr(JsonParser) json_glib = json_parser_new ();
  Context ctx = { parser, reader, json_glib, 0 };

  fuzz_setup_logging ();
  /* A text without a final newline is a whole message too. */
  if (_qmp_stream_feed (stream, (const char *) data, size, on_line, &ctx, NULL) &&
      ctx.n_lines <= 64)
    _qmp_stream_feed (stream, "\n", 1, on_line, &ctx, NULL);
  return 0;
}
