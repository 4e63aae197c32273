/* qmp-json-reader.h: a strict JSON reader building json-glib trees (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QMPTHIN_COMPILATION)
#error "qmp-json-reader.h is private to libqmpthin."
#endif

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef struct _QmpJsonReader QmpJsonReader;

QmpJsonReader *_qmp_json_reader_new  (guint           max_depth);
void           _qmp_json_reader_free (QmpJsonReader  *reader);
JsonNode      *_qmp_json_reader_read (QmpJsonReader  *reader,
                                      const char     *text,
                                      gsize           length,
                                      GError        **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QmpJsonReader, _qmp_json_reader_free)

G_END_DECLS
