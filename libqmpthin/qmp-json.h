/* qmp-json.h: reading the members of QEMU's JSON (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QMPTHIN_COMPILATION)
#error "qmp-json.h is private to libqmpthin."
#endif

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* Absent members and members of the wrong type give the default, since
 * newer or buggy QEMUs must not break typed parsing. */
const char *_qmp_json_get_string         (JsonObject  *object,
                                          const char  *member);
gboolean    _qmp_json_get_boolean        (JsonObject  *object,
                                          const char  *member,
                                          gboolean     default_value);
guint64     _qmp_json_get_uint64         (JsonObject  *object,
                                          const char  *member,
                                          guint64      default_value);
gint64      _qmp_json_get_int            (JsonObject  *object,
                                          const char  *member,
                                          gint64       default_value);
JsonObject *_qmp_json_get_object         (JsonObject  *object,
                                          const char  *member);
JsonArray  *_qmp_json_get_array          (JsonObject  *object,
                                          const char  *member);
int         _qmp_json_enum_from_string   (GType        enum_type,
                                          const char  *nick,
                                          int          absent_value,
                                          int          unknown_value);
const char *_qmp_json_enum_nick          (GType        type,
                                          int          value);

/* An array of objects, each read by @new_from_json: the typed result of a
 * query (query-block, query-blockstats...). */
GPtrArray  *_qmp_json_parse_object_array (JsonNode    *value,
                                          const char  *command,
                                          gpointer   (*new_from_json) (JsonObject *object,
                                                                      GError    **error),
                                          GError     **error);

G_END_DECLS
