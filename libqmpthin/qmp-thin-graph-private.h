/* qmp-thin-graph-private.h: the block graph as QmpThinMonitor follows it (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QMPTHIN_COMPILATION)
#error "qmp-thin-graph-private.h is private to libqmpthin."
#endif

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* One reading of `x-debug-query-block-graph`: the block backends (guest
 * devices, named by their QOM path or drive id), the block jobs and the
 * nodes, with the edges between them. */
typedef struct _QmpThinGraph QmpThinGraph;

/* Where a storage node sits in the graph. */
typedef struct {
  char *device;                 /* the named backend above it; NULL: none */
  char *top;                    /* the active layer: the format node the guest writes */
  guint depth;                  /* `file` edges from @top down to the node */
} QmpThinPlace;

QmpThinGraph *_qmp_thin_graph_new         (JsonNode           *value,
                                           GError            **error);
void          _qmp_thin_graph_free        (QmpThinGraph       *graph);
gboolean      _qmp_thin_graph_locate      (QmpThinGraph       *graph,
                                           const char         *node_name,
                                           QmpThinPlace       *place);
char         *_qmp_thin_graph_follow      (QmpThinGraph       *graph,
                                           const QmpThinPlace *place,
                                           char              **top);
GPtrArray    *_qmp_thin_graph_targets     (QmpThinGraph       *graph,
                                           const char         *top,
                                           guint               depth,
                                           GPtrArray         **jobs);
GPtrArray    *_qmp_thin_graph_names_above (QmpThinGraph       *graph,
                                           const char         *node_name);
void          _qmp_thin_place_clear       (QmpThinPlace       *place);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QmpThinGraph, _qmp_thin_graph_free)
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (QmpThinPlace, _qmp_thin_place_clear)

G_END_DECLS
