/* qmp-commands.h: the typed commands of QmpClient
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__QMPTHIN_INSIDE__) && !defined(QMPTHIN_COMPILATION)
#error "Only <qmpthin/qmpthin.h> can be included directly."
#endif

#include <gio/gio.h>
#include <qmpthin/qmp-version.h>
#include <qmpthin/qmp-block.h>
#include <qmpthin/qmp-client.h>
#include <qmpthin/qmp-status.h>

G_BEGIN_DECLS

QMP_AVAILABLE_IN_1_0
void           qmp_client_query_status_async     (QmpClient            *client,
                                                  GCancellable         *cancellable,
                                                  GAsyncReadyCallback   callback,
                                                  gpointer              user_data);
QMP_AVAILABLE_IN_1_0
QmpStatusInfo *qmp_client_query_status_finish    (QmpClient            *client,
                                                  GAsyncResult         *result,
                                                  GError              **error);
QMP_AVAILABLE_IN_1_0
QmpStatusInfo *qmp_client_query_status_sync      (QmpClient            *client,
                                                  GCancellable         *cancellable,
                                                  GError              **error);

QMP_AVAILABLE_IN_1_0
void           qmp_client_cont_async             (QmpClient            *client,
                                                  GCancellable         *cancellable,
                                                  GAsyncReadyCallback   callback,
                                                  gpointer              user_data);
QMP_AVAILABLE_IN_1_0
gboolean       qmp_client_cont_finish            (QmpClient            *client,
                                                  GAsyncResult         *result,
                                                  GError              **error);
QMP_AVAILABLE_IN_1_0
gboolean       qmp_client_cont_sync              (QmpClient            *client,
                                                  GCancellable         *cancellable,
                                                  GError              **error);

QMP_AVAILABLE_IN_1_0
void           qmp_client_stop_async             (QmpClient            *client,
                                                  GCancellable         *cancellable,
                                                  GAsyncReadyCallback   callback,
                                                  gpointer              user_data);
QMP_AVAILABLE_IN_1_0
gboolean       qmp_client_stop_finish            (QmpClient            *client,
                                                  GAsyncResult         *result,
                                                  GError              **error);
QMP_AVAILABLE_IN_1_0
gboolean       qmp_client_stop_sync              (QmpClient            *client,
                                                  GCancellable         *cancellable,
                                                  GError              **error);

QMP_AVAILABLE_IN_1_0
void       qmp_client_query_block_async                (QmpClient            *client,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
QMP_AVAILABLE_IN_1_0
GPtrArray *qmp_client_query_block_finish               (QmpClient            *client,
                                                        GAsyncResult         *result,
                                                        GError              **error);
QMP_AVAILABLE_IN_1_0
GPtrArray *qmp_client_query_block_sync                 (QmpClient            *client,
                                                        GCancellable         *cancellable,
                                                        GError              **error);

QMP_AVAILABLE_IN_1_0
void       qmp_client_query_blockstats_async           (QmpClient            *client,
                                                        gboolean              query_nodes,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
QMP_AVAILABLE_IN_1_0
GPtrArray *qmp_client_query_blockstats_finish          (QmpClient            *client,
                                                        GAsyncResult         *result,
                                                        GError              **error);
QMP_AVAILABLE_IN_1_0
GPtrArray *qmp_client_query_blockstats_sync            (QmpClient            *client,
                                                        gboolean              query_nodes,
                                                        GCancellable         *cancellable,
                                                        GError              **error);

QMP_AVAILABLE_IN_1_0
void       qmp_client_query_named_block_nodes_async    (QmpClient            *client,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
QMP_AVAILABLE_IN_1_0
GPtrArray *qmp_client_query_named_block_nodes_finish   (QmpClient            *client,
                                                        GAsyncResult         *result,
                                                        GError              **error);
QMP_AVAILABLE_IN_1_0
GPtrArray *qmp_client_query_named_block_nodes_sync     (QmpClient            *client,
                                                        GCancellable         *cancellable,
                                                        GError              **error);

QMP_AVAILABLE_IN_1_0
void       qmp_client_set_write_threshold_async        (QmpClient            *client,
                                                        const char           *node_name,
                                                        guint64               write_threshold,
                                                        GCancellable         *cancellable,
                                                        GAsyncReadyCallback   callback,
                                                        gpointer              user_data);
QMP_AVAILABLE_IN_1_0
gboolean   qmp_client_set_write_threshold_finish       (QmpClient            *client,
                                                        GAsyncResult         *result,
                                                        GError              **error);
QMP_AVAILABLE_IN_1_0
gboolean   qmp_client_set_write_threshold_sync         (QmpClient            *client,
                                                        const char           *node_name,
                                                        guint64               write_threshold,
                                                        GCancellable         *cancellable,
                                                        GError              **error);

G_END_DECLS
