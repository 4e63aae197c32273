/* qmp-fake-server.h: a scripted QMP server for tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* QEMU 7.2's greeting, byte for byte (fixture s1). */
#define QMP_FAKE_GREETING \
  "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, " \
  "\"package\": \"Debian 1:7.2+dfsg-7+deb12u18+b3\"}, \"capabilities\": [\"oob\"]}}\r\n"

typedef struct _QmpFakeServer QmpFakeServer;

QmpFakeServer *qmp_fake_server_new          (void);
void           qmp_fake_server_free         (QmpFakeServer *server);
const char    *qmp_fake_server_get_address  (QmpFakeServer *server);
const char    *qmp_fake_server_get_path     (QmpFakeServer *server);

/* What a new connection is greeted with (raw bytes); NULL greets with
 * nothing. Default QMP_FAKE_GREETING. */
void           qmp_fake_server_set_greeting (QmpFakeServer *server,
                                             const char    *raw);
/* Answer @command with @reply_template (a JSON object such as
 * {"return": {}}) whose "id" is set to the request's. */
void           qmp_fake_server_set_reply    (QmpFakeServer *server,
                                             const char    *command,
                                             const char    *reply_template);
/* Do not answer @command: the test replies with qmp_fake_server_reply(). */
void           qmp_fake_server_hold         (QmpFakeServer *server,
                                             const char    *command);

/* The next request received (any command, answered or not), or NULL
 * after @timeout_ms. */
JsonObject    *qmp_fake_server_pop_request  (QmpFakeServer *server,
                                             guint          timeout_ms);
guint          qmp_fake_server_get_n_connections (QmpFakeServer *server);

/* Sends @raw as is, after everything queued before. */
void           qmp_fake_server_send         (QmpFakeServer *server,
                                             const char    *raw);
void           qmp_fake_server_send_bytes   (QmpFakeServer *server,
                                             const char    *data,
                                             gsize          length);
/* Sends {"return": <return_json>, "id": <request's id>}\r\n. */
void           qmp_fake_server_reply        (QmpFakeServer *server,
                                             JsonObject    *request,
                                             const char    *return_json);
/* Sends an event line with a timestamp. */
void           qmp_fake_server_send_event   (QmpFakeServer *server,
                                             const char    *name,
                                             const char    *data_json);
/* Closes the current connection, after what was queued before. */
void           qmp_fake_server_close_client (QmpFakeServer *server);
/* Drops the connection and listens again on a new socket file at the same
 * path, as a restarted QEMU does. */
void           qmp_fake_server_restart      (QmpFakeServer *server);
/* Waits until everything queued so far was written. */
void           qmp_fake_server_flush        (QmpFakeServer *server);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QmpFakeServer, qmp_fake_server_free)

G_END_DECLS
