/* qmp-message.c: classification and validation of QMP messages
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * Every text QEMU sends is one JSON object of one of four shapes: the
 * greeting ({"QMP": …}), a command's success ({"return": …, "id": …}), a
 * command's failure ({"error": {"class", "desc"}, "id": …}) or an event
 * ({"event", "timestamp", "data"}). Member order differs between them, so
 * nothing here assumes any. Members this version does not know are
 * ignored: newer QEMUs add them.
 */

#include <string.h>

#include <qmpthin/qmp-errors.h>

#include "qmp-json-reader.h"
#include "qmp-message.h"
#include "qmp-stream.h"

struct _QmpMessageParser
{
  /* Reused for every line, with its scratch buffer. */
  QmpJsonReader *reader;
};

QmpMessageParser *
_qmp_message_parser_new (void)
{
  QmpMessageParser *self = g_new0 (QmpMessageParser, 1);

  /* The framer refuses deeper lines before they get here; the reader
   * checks again for texts that do not come through it. */
  self->reader = _qmp_json_reader_new (QMP_STREAM_DEFAULT_MAX_DEPTH);
  return self;
}

void
_qmp_message_parser_free (QmpMessageParser *self)
{
  if (self == NULL)
    return;
  _qmp_json_reader_free (self->reader);
  g_free (self);
}

void
_qmp_message_free (QmpMessage *message)
{
  if (message == NULL)
    return;
  g_clear_pointer (&message->root, json_node_unref);
  g_free (message);
}

static gboolean
protocol_error (GError     **error,
                const char  *format,
                ...) G_GNUC_PRINTF (2, 3);

static gboolean
protocol_error (GError     **error,
                const char  *format,
                ...)
{
  va_list args;

  if (error == NULL)
    return FALSE;
  va_start (args, format);
  g_propagate_error (error, g_error_new_valist (QMP_ERROR, QMP_ERROR_PROTOCOL, format, args));
  va_end (args);
  return FALSE;
}

/* Returns the member as a string, or NULL (with error set) when it is
 * missing or not a string. */
static const char *
get_string_member (JsonObject  *object,
                   const char  *member,
                   const char  *what,
                   GError     **error)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    {
      protocol_error (error, "%s has no string member \"%s\"", what, member);
      return NULL;
    }
  return json_node_get_string (node);
}

static gboolean
get_int_member (JsonObject  *object,
                const char  *member,
                gint64      *value)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return FALSE;
  *value = json_node_get_int (node);
  return TRUE;
}

static gboolean
parse_greeting (QmpMessage  *message,
                JsonNode    *qmp,
                GError     **error)
{
  JsonObject *object, *version, *qemu;
  JsonNode *node;
  gint64 major, minor, micro;

  if (!JSON_NODE_HOLDS_OBJECT (qmp))
    goto invalid;
  object = json_node_get_object (qmp);

  node = json_object_get_member (object, "version");
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    goto invalid;
  version = json_node_get_object (node);

  node = json_object_get_member (version, "qemu");
  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    goto invalid;
  qemu = json_node_get_object (node);
  if (!get_int_member (qemu, "major", &major) || major < 0 || major > G_MAXUINT ||
      !get_int_member (qemu, "minor", &minor) || minor < 0 || minor > G_MAXUINT ||
      !get_int_member (qemu, "micro", &micro) || micro < 0 || micro > G_MAXUINT)
    goto invalid;

  /* "package" is informative only; tolerate its absence. */
  node = json_object_get_member (version, "package");
  if (node != NULL && JSON_NODE_HOLDS_VALUE (node) &&
      json_node_get_value_type (node) == G_TYPE_STRING)
    message->qemu_package = json_node_get_string (node);

  node = json_object_get_member (object, "capabilities");
  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    goto invalid;
  message->capabilities = json_node_get_array (node);
  for (guint i = 0; i < json_array_get_length (message->capabilities); i++)
    {
      JsonNode *cap = json_array_get_element (message->capabilities, i);

      if (!JSON_NODE_HOLDS_VALUE (cap) || json_node_get_value_type (cap) != G_TYPE_STRING)
        goto invalid;
    }

  message->kind = QMP_MESSAGE_GREETING;
  message->qemu_major = major;
  message->qemu_minor = minor;
  message->qemu_micro = micro;
  return TRUE;

invalid:
  g_set_error_literal (error, QMP_ERROR, QMP_ERROR_INVALID_GREETING,
                       "The QMP greeting lacks a valid version or capabilities");
  return FALSE;
}

/* 9999-12-31T23:59:59Z, the last second a GDateTime can hold. */
#define MAX_TIMESTAMP_SECONDS G_GINT64_CONSTANT (253402300799)

static gboolean
parse_event (QmpMessage  *message,
             JsonObject  *object,
             GError     **error)
{
  JsonNode *node;

  message->event_name = get_string_member (object, "event", "Event", error);
  if (message->event_name == NULL)
    return FALSE;

  message->timestamp_usec = -1;
  node = json_object_get_member (object, "timestamp");
  if (node != NULL)
    {
      JsonObject *timestamp;
      gint64 seconds, microseconds;

      if (!JSON_NODE_HOLDS_OBJECT (node))
        return protocol_error (error, "Event %s has a timestamp that is not an object",
                               message->event_name);
      timestamp = json_node_get_object (node);
      if (!get_int_member (timestamp, "seconds", &seconds) ||
          !get_int_member (timestamp, "microseconds", &microseconds))
        return protocol_error (error, "Event %s has a timestamp without integer seconds and microseconds",
                               message->event_name);
      /* QEMU sends -1/-1 when it could not read the clock. A time GDateTime
       * cannot hold (past the year 9999) is no better: qmp_event_get_timestamp()
       * could not give it, so it is unknown too. */
      if (seconds >= 0 && seconds <= MAX_TIMESTAMP_SECONDS &&
          microseconds >= 0 && microseconds < G_USEC_PER_SEC)
        message->timestamp_usec = seconds * G_USEC_PER_SEC + microseconds;
    }

  node = json_object_get_member (object, "data");
  if (node != NULL)
    {
      if (!JSON_NODE_HOLDS_OBJECT (node))
        return protocol_error (error, "Event %s has data that is not an object",
                               message->event_name);
      message->event_data = json_node_get_object (node);
    }

  message->kind = QMP_MESSAGE_EVENT;
  return TRUE;
}

static gboolean
parse_error (QmpMessage  *message,
             JsonNode    *node,
             GError     **error)
{
  JsonObject *object;

  if (!JSON_NODE_HOLDS_OBJECT (node))
    return protocol_error (error, "Error reply whose \"error\" is not an object");
  object = json_node_get_object (node);
  message->error_class = get_string_member (object, "class", "Error reply", error);
  if (message->error_class == NULL)
    return FALSE;
  message->error_desc = get_string_member (object, "desc", "Error reply", error);
  if (message->error_desc == NULL)
    return FALSE;
  message->kind = QMP_MESSAGE_ERROR;
  return TRUE;
}

/**
 * _qmp_message_new_from_node:
 * @root: (transfer none): a parsed JSON text
 * @error: return location for a %QMP_ERROR
 *
 * Classifies and validates @root. The message keeps a reference to @root;
 * its members point into it.
 *
 * Returns: (transfer full): the message, or %NULL with @error set
 */
QmpMessage *
_qmp_message_new_from_node (JsonNode  *root,
                           GError   **error)
{
  g_autoptr(QmpMessage) message = NULL;
  JsonObject *object;
  JsonNode *node;

  g_return_val_if_fail (root != NULL, NULL);

  if (!JSON_NODE_HOLDS_OBJECT (root))
    {
      protocol_error (error, "QMP message is not a JSON object");
      return NULL;
    }

  message = g_new0 (QmpMessage, 1);
  message->root = json_node_ref (root);
  message->timestamp_usec = -1;
  object = json_node_get_object (root);

  if ((node = json_object_get_member (object, "QMP")) != NULL)
    {
      if (!parse_greeting (message, node, error))
        return NULL;
      return g_steal_pointer (&message);
    }

  if (json_object_has_member (object, "event"))
    {
      if (!parse_event (message, object, error))
        return NULL;
      return g_steal_pointer (&message);
    }

  message->id = json_object_get_member (object, "id");

  if ((node = json_object_get_member (object, "return")) != NULL)
    {
      message->kind = QMP_MESSAGE_RETURN;
      message->value = node;
      return g_steal_pointer (&message);
    }

  if ((node = json_object_get_member (object, "error")) != NULL)
    {
      if (!parse_error (message, node, error))
        return NULL;
      return g_steal_pointer (&message);
    }

  protocol_error (error, "QMP message is neither a greeting, a reply nor an event");
  return NULL;
}

/**
 * _qmp_message_parser_parse:
 * @self: a parser
 * @text: one JSON text (need not be NUL-terminated)
 * @length: bytes in @text, or -1 if it is NUL-terminated
 * @error: return location for a %QMP_ERROR
 *
 * Parses and classifies one message.
 *
 * Returns: (transfer full): the message, or %NULL with @error set
 */
QmpMessage *
_qmp_message_parser_parse (QmpMessageParser  *self,
                          const char        *text,
                          gssize             length,
                          GError           **error)
{
  g_autoptr(JsonNode) root = NULL;

  g_return_val_if_fail (self != NULL, NULL);
  g_return_val_if_fail (text != NULL, NULL);

  if (length < 0)
    length = strlen (text);
  root = _qmp_json_reader_read (self->reader, text, length, error);
  if (root == NULL)
    return NULL;
  return _qmp_message_new_from_node (root, error);
}

/* Ids are compared as JSON values: QEMU echoes them with their type, so
 * the integer 7 and the string "7" are different ids. */
gboolean
_qmp_message_id_equal (JsonNode *a,
                      JsonNode *b)
{
  if (a == NULL || b == NULL)
    return a == b;
  return json_node_equal (a, b);
}

char *
_qmp_message_id_to_string (JsonNode *id)
{
  if (id == NULL)
    return g_strdup ("(none)");
  return json_to_string (id, FALSE);
}

/* Appends @text as a JSON string literal: what json-glib's generator
 * writes, without building a tree for two strings. */
static void
append_json_string (GString    *out,
                    const char *text)
{
  static const char hex[] = "0123456789abcdef";

  g_string_append_c (out, '"');
  for (const unsigned char *p = (const unsigned char *) text; *p != '\0'; p++)
    {
      switch (*p)
        {
        case '"':
          g_string_append (out, "\\\"");
          break;
        case '\\':
          g_string_append (out, "\\\\");
          break;
        case '\b':
          g_string_append (out, "\\b");
          break;
        case '\f':
          g_string_append (out, "\\f");
          break;
        case '\n':
          g_string_append (out, "\\n");
          break;
        case '\r':
          g_string_append (out, "\\r");
          break;
        case '\t':
          g_string_append (out, "\\t");
          break;
        default:
          if (*p < 0x20)
            {
              g_string_append (out, "\\u00");
              g_string_append_c (out, hex[*p >> 4]);
              g_string_append_c (out, hex[*p & 0xf]);
            }
          else
            {
              g_string_append_c (out, (char) *p);
            }
        }
    }
  g_string_append_c (out, '"');
}

/**
 * _qmp_message_build_command:
 * @command: the command name
 * @arguments: (nullable): its arguments
 * @id: the id to send, as a string
 * @length: (out): length of the result
 *
 * Serialises one command as a single line ending in "\n".
 *
 * Returns: (transfer full): the line
 */
char *
_qmp_message_build_command (const char *command,
                           JsonObject *arguments,
                           const char *id,
                           gsize      *length)
{
  GString *out = g_string_sized_new (64);

  /* The name and the id by hand (this is on every command's path); the
   * arguments, when there are any, by json-glib's generator. */
  g_string_append (out, "{\"execute\":");
  append_json_string (out, command);
  if (arguments != NULL)
    {
      g_autoptr(JsonNode) node = json_node_init_object (json_node_alloc (), arguments);
      g_autoptr(JsonGenerator) generator = json_generator_new ();

      g_string_append (out, ",\"arguments\":");
      json_generator_set_root (generator, node);
      json_generator_to_gstring (generator, out);
    }
  g_string_append (out, ",\"id\":");
  append_json_string (out, id);
  g_string_append (out, "}\n");

  if (length != NULL)
    *length = out->len;
  return g_string_free (out, FALSE);
}
