/* qmp-test-util.h: helpers shared by the tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

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

G_END_DECLS
