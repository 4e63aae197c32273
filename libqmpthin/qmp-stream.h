/* qmp-stream.h: framing of a QMP byte stream into JSON texts (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QMPTHIN_COMPILATION)
#error "qmp-stream.h is private to libqmpthin."
#endif

#include <glib.h>

G_BEGIN_DECLS

/* Deepest nesting of arrays and objects accepted in one message. json-glib's
 * recursive-descent parser exhausts the stack long before 100000 levels; QMP
 * replies nest far less (a backing chain of N images in query-block nests
 * about 2N levels), so 512 leaves room for very long chains. */
#define QMP_STREAM_DEFAULT_MAX_DEPTH 512

/* How much one read asks for: never byte by byte, and not more than the
 * CPU cache holds once parsed (see channel_read() in qmp-channel.c). */
#define QMP_STREAM_READ_SIZE (16 * 1024)

typedef struct _QmpStream QmpStream;

/*
 * QmpStreamLineFunc:
 * @line: one complete JSON text, without its line terminator; not
 *   NUL-terminated (a line read in one piece is passed in place): read
 *   @length bytes, a NUL byte inside the line included
 * @length: bytes in @line, terminator excluded
 * @user_data: as given to _qmp_stream_feed()
 *
 * Returns: %TRUE to go on, %FALSE to stop feeding (the rest of the bytes
 *   stay buffered and are returned by the next _qmp_stream_feed())
 */
typedef gboolean (*QmpStreamLineFunc) (const char *line,
                                       gsize       length,
                                       gpointer    user_data);

QmpStream *_qmp_stream_new               (gsize               max_message_size);
void       _qmp_stream_free              (QmpStream          *stream);
void       _qmp_stream_set_max_message_size (QmpStream       *stream,
                                         gsize               max_message_size);
gsize      _qmp_stream_get_max_message_size (QmpStream       *stream);
void       _qmp_stream_set_max_depth     (QmpStream          *stream,
                                         guint               max_depth);
gboolean   _qmp_stream_feed              (QmpStream          *stream,
                                         const char         *data,
                                         gsize               length,
                                         QmpStreamLineFunc   func,
                                         gpointer            user_data,
                                         GError            **error);
gsize      _qmp_stream_get_buffered      (QmpStream          *stream);
void       _qmp_stream_reset             (QmpStream          *stream);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QmpStream, _qmp_stream_free)

G_END_DECLS
