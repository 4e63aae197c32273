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

/* A timer in the default main context that wakes blocking iterations and
 * says when the time is up. */
typedef struct {
  GSource *source;
  gboolean expired;
} QmpTestGuard;

void          qmp_test_guard_begin  (QmpTestGuard  *guard,
                                     guint          timeout_ms);
void          qmp_test_guard_end    (QmpTestGuard  *guard);

/* Runs the default main context until @expr holds; fails the test after
 * @timeout_ms instead of hanging. */
#define QMP_TEST_WAIT_FOR(expr, timeout_ms) \
  G_STMT_START { \
    QmpTestGuard guard_; \
    qmp_test_guard_begin (&guard_, (timeout_ms)); \
    while (!(expr)) \
      { \
        if (guard_.expired) \
          g_assertion_message_expr (G_LOG_DOMAIN, __FILE__, __LINE__, G_STRFUNC, \
                                    "timed out waiting for " #expr); \
        g_main_context_iteration (NULL, TRUE); \
      } \
    qmp_test_guard_end (&guard_); \
  } G_STMT_END

G_END_DECLS
