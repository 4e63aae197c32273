/* qmp-test-util.h: helpers shared by the tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* One record of a recorded QMP transcript (a .jsonl file in tests/data). */
typedef struct {
  gboolean sent;                /* TRUE: client -> QEMU */
  char *raw;                    /* the exact bytes, "\r\n" included */
} QmpTestRecord;

/* The records of tests/data/NAME, in order ("note" records skipped). */
GPtrArray *qmp_test_load_transcript (const char *name);

/* The bytes QEMU sent, concatenated. */
GString   *qmp_test_transcript_received (GPtrArray *records);

/* A GAsyncReadyCallback that stores a reference to the result in the
 * GAsyncResult* slot given as user data. */
void          qmp_test_store_result (GObject       *source,
                                     GAsyncResult  *result,
                                     gpointer       user_data);

/* Runs the default main context until *slot is set; fails the test after
 * @timeout_ms. */
GAsyncResult *qmp_test_wait_result  (GAsyncResult **slot,
                                     guint          timeout_ms);

G_END_DECLS
