/* qmp-channel.h: one connection's bytes, in and out (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QMPTHIN_COMPILATION)
#error "qmp-channel.h is private to libqmpthin."
#endif

#include <gio/gio.h>

#include "qmp-message.h"

G_BEGIN_DECLS

typedef struct _QmpChannel QmpChannel;

/* How a channel reaches the layer that owns it. Both are called from the
 * channel's sources, never from a call into the channel, and never after
 * _qmp_channel_close(). */
typedef struct {
  /* A message QEMU sent, in wire order (transfer full). The first one of
   * a connection is its greeting: anything else breaks the channel. */
  void (*message) (QmpMessage *message,
                   gpointer    user_data);
  /* The connection broke (end of file, a reset, a write that failed, a
   * line that is not QMP): @error (transfer full) says why. The channel
   * stopped its I/O; the messages read before the break were handed out
   * first. Called once at most. */
  void (*broken)  (GError     *error,
                   gpointer    user_data);
} QmpChannelHooks;

QmpChannel *_qmp_channel_new                  (GIOStream             *stream,
                                               GMainContext          *context,
                                               QmpMessageParser      *parser,
                                               gsize                  max_message_size,
                                               const char            *name,
                                               gboolean               wire_trace,
                                               const QmpChannelHooks *hooks,
                                               gpointer               user_data);
QmpChannel *_qmp_channel_ref                  (QmpChannel            *channel);
void        _qmp_channel_unref                (QmpChannel            *channel);
void        _qmp_channel_close                (QmpChannel            *channel);

GIOStream  *_qmp_channel_get_stream           (QmpChannel            *channel);
void        _qmp_channel_set_max_message_size (QmpChannel            *channel,
                                               gsize                  max_message_size);

gboolean    _qmp_channel_queue                (QmpChannel            *channel,
                                               const char            *line,
                                               gsize                  length);
gboolean    _qmp_channel_has_output           (QmpChannel            *channel);
void        _qmp_channel_flush                (QmpChannel            *channel);

void        _qmp_channel_set_reading          (QmpChannel            *channel,
                                               gboolean               reading);
gboolean    _qmp_channel_get_reading          (QmpChannel            *channel);

GSource    *_qmp_channel_create_read_source   (QmpChannel            *channel);
GSource    *_qmp_channel_create_write_source  (QmpChannel            *channel);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QmpChannel, _qmp_channel_unref)

G_END_DECLS
