/* qmp-json.c: reading QEMU's JSON into typed values, and typed commands
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <qmpthin/qmp-errors.h>

#include "qmp-json.h"

const char *
_qmp_json_get_string (JsonObject *object,
                      const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

gboolean
_qmp_json_get_boolean (JsonObject *object,
                       const char *member,
                       gboolean    default_value)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_BOOLEAN)
    return default_value;
  return json_node_get_boolean (node);
}

/* Sizes and offsets: a negative integer, a number read as a double (past
 * 2^63, where QEMU writes uint64 values) or anything else gives the
 * default. */
guint64
_qmp_json_get_uint64 (JsonObject *object,
                      const char *member,
                      guint64     default_value)
{
  JsonNode *node = json_object_get_member (object, member);
  gint64 value;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return default_value;
  value = json_node_get_int (node);
  return value < 0 ? default_value : (guint64) value;
}

JsonObject *
_qmp_json_get_object (JsonObject *object,
                      const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return json_node_get_object (node);
}

gint64
_qmp_json_get_int (JsonObject *object,
                   const char *member,
                   gint64      default_value)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node) ||
      json_node_get_value_type (node) != G_TYPE_INT64)
    return default_value;
  return json_node_get_int (node);
}

JsonArray *
_qmp_json_get_array (JsonObject *object,
                     const char *member)
{
  JsonNode *node = json_object_get_member (object, member);

  if (node == NULL || !JSON_NODE_HOLDS_ARRAY (node))
    return NULL;
  return json_node_get_array (node);
}

/* The GEnum nicks are QEMU's own spellings ("io-error", "nospace"). */
int
_qmp_json_enum_from_string (GType       enum_type,
                            const char *nick,
                            int         absent_value,
                            int         unknown_value)
{
  g_autoptr(GEnumClass) klass = NULL;
  GEnumValue *value;

  if (nick == NULL)
    return absent_value;

  klass = g_type_class_ref (enum_type);
  value = g_enum_get_value_by_nick (klass, nick);
  if (value == NULL || value->value == absent_value || value->value == unknown_value)
    return unknown_value;
  return value->value;
}

GPtrArray *
_qmp_json_parse_object_array (JsonNode    *value,
                              const char  *command,
                              gpointer   (*new_from_json) (JsonObject *object,
                                                           GError    **error),
                              GError     **error)
{
  g_autoptr(GPtrArray) result = g_ptr_array_new_with_free_func (g_object_unref);
  JsonArray *array;

  if (!JSON_NODE_HOLDS_ARRAY (value))
    {
      g_set_error (error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                   "The reply to %s is not an array", command);
      return NULL;
    }
  array = json_node_get_array (value);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      gpointer item;

      if (!JSON_NODE_HOLDS_OBJECT (element))
        {
          g_set_error (error, QMP_ERROR, QMP_ERROR_PROTOCOL,
                       "Entry %u of the reply to %s is not an object", i, command);
          return NULL;
        }
      item = new_from_json (json_node_get_object (element), error);
      if (item == NULL)
        {
          g_prefix_error (error, "Entry %u of the reply to %s: ", i, command);
          return NULL;
        }
      g_ptr_array_add (result, item);
    }
  return g_steal_pointer (&result);
}

/* The nick of @value, for log messages; "?" for a value @type lacks. */
const char *
_qmp_json_enum_nick (GType type,
                     int   value)
{
  /* Registered enum classes live as long as the program. */
  g_autoptr(GEnumClass) klass = g_type_class_ref (type);
  GEnumValue *enum_value = g_enum_get_value (klass, value);

  return enum_value != NULL ? enum_value->value_nick : "?";
}
