/* qmp-fake-server.h: a scripted QMP server for tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* QEMU 7.2's greeting, byte for byte (fixture s1). */
#define QMP_FAKE_GREETING \
  "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, " \
  "\"package\": \"Debian 1:7.2+dfsg-7+deb12u18+b3\"}, \"capabilities\": [\"oob\"]}}\r\n"

/* In a raw reply template, replaced by the request's id as JSON text. */
#define QMP_FAKE_ID "@ID@"

typedef struct _QmpFakeServer QmpFakeServer;

/* A server on a UNIX socket in a new temporary directory (removed by
 * qmp_fake_server_free()), or on 127.0.0.1 at a free TCP port. Either
 * serves one connection at a time, like a QEMU monitor: a second client
 * waits in the listen backlog, without a greeting, until the first one
 * is gone. */
QmpFakeServer *qmp_fake_server_new          (void);
QmpFakeServer *qmp_fake_server_new_tcp      (void);
void           qmp_fake_server_free         (QmpFakeServer *server);

/* "unix:PATH" or "tcp:127.0.0.1:PORT". */
const char    *qmp_fake_server_get_address  (QmpFakeServer *server);
/* The socket path; NULL for TCP. */
const char    *qmp_fake_server_get_path     (QmpFakeServer *server);

/* ---- What the server answers ------------------------------------------ */

/* What a new connection is greeted with (raw bytes, sent as they are);
 * NULL greets with nothing. Default QMP_FAKE_GREETING. */
void           qmp_fake_server_set_greeting (QmpFakeServer *server,
                                             const char    *raw);

/* Answer @command with @reply_template, a JSON object such as
 * {"return": {}} or {"error": {"class": …, "desc": …}}, with the
 * request's id added where QEMU puts it (last in a return, first in an
 * error) unless the template has an "id" of its own. */
void           qmp_fake_server_set_reply    (QmpFakeServer *server,
                                             const char    *command,
                                             const char    *reply_template);
/* Answer @command with @raw_template sent as it is (the template brings
 * its own line endings), every QMP_FAKE_ID in it replaced by the
 * request's id: for broken replies, or several lines at once. */
void           qmp_fake_server_set_raw_reply (QmpFakeServer *server,
                                              const char    *command,
                                              const char    *raw_template);
/* Do not answer @command: the test replies later with
 * qmp_fake_server_reply(), or never. */
void           qmp_fake_server_hold         (QmpFakeServer *server,
                                             const char    *command);
/* Back to the default answer, QEMU's: qmp_capabilities succeeds once,
 * then fails with CommandNotFound "Capabilities negotiation is already
 * complete, command ignored"; any other command fails with
 * CommandNotFound, "Expecting capabilities negotiation with
 * 'qmp_capabilities'" before negotiation and "The command NAME has not
 * been found" after. */
void           qmp_fake_server_unset_reply  (QmpFakeServer *server,
                                             const char    *command);

/* Sends {"return": RETURN_JSON, "id": ID}\r\n for @request. */
void           qmp_fake_server_reply        (QmpFakeServer *server,
                                             JsonObject    *request,
                                             const char    *return_json);
/* Sends {"id": ID, "error": {"class": CLASS, "desc": DESC}}\r\n. */
void           qmp_fake_server_reply_error  (QmpFakeServer *server,
                                             JsonObject    *request,
                                             const char    *error_class,
                                             const char    *desc);

/* ---- What the server received ----------------------------------------- */

/* Every request (a JSON object, parsed in the server's thread) is kept
 * for the test, in order, whether it was answered or not. */

/* The next request, or NULL after @timeout_ms. Blocks without running any
 * main context: use it only once the client has written the request. */
JsonObject    *qmp_fake_server_pop_request  (QmpFakeServer *server,
                                             guint          timeout_ms);
/* The next request; runs the calling thread's default main context
 * meanwhile (the client writes from there). Fails the test after
 * @timeout_ms. */
JsonObject    *qmp_fake_server_wait_request (QmpFakeServer *server,
                                             guint          timeout_ms);
/* The next @n requests (JsonObject*, in order), the same way. */
GPtrArray     *qmp_fake_server_wait_requests (QmpFakeServer *server,
                                              guint          n,
                                              guint          timeout_ms);
/* Requests received since the server started. */
guint          qmp_fake_server_get_n_requests (QmpFakeServer *server);
/* Every line received, as received (without the "\n"), NULL-terminated. */
GStrv          qmp_fake_server_dup_lines    (QmpFakeServer *server);

/* Connections accepted, and connections ended (by either side). */
guint          qmp_fake_server_get_n_connections (QmpFakeServer *server);
guint          qmp_fake_server_get_n_closed (QmpFakeServer *server);
/* Run the calling thread's default main context until that many
 * connections were accepted, or ended; fail the test after @timeout_ms. */
void           qmp_fake_server_wait_connections (QmpFakeServer *server,
                                                 guint          n,
                                                 guint          timeout_ms);
void           qmp_fake_server_wait_closed  (QmpFakeServer *server,
                                             guint          n,
                                             guint          timeout_ms);

/* ---- Output, written in the order it was queued ------------------------ */

/* Output queued while no client is connected is dropped, as QEMU drops
 * events nobody listens to. Replies to requests join the same queue. */

/* Sends @raw as it is. */
void           qmp_fake_server_send         (QmpFakeServer *server,
                                             const char    *raw);
void           qmp_fake_server_send_bytes   (QmpFakeServer *server,
                                             const char    *data,
                                             gsize          length);
/* Sends an event line stamped with the current time; @data_json is the
 * "data" member, or NULL for none (STOP, RESUME). */
void           qmp_fake_server_send_event   (QmpFakeServer *server,
                                             const char    *name,
                                             const char    *data_json);
/* The same, with the timestamp given (microseconds since the epoch). */
void           qmp_fake_server_send_event_at (QmpFakeServer *server,
                                              const char    *name,
                                              gint64         timestamp_usec,
                                              const char    *data_json);
/* Closes the current connection. */
void           qmp_fake_server_close_client (QmpFakeServer *server);
/* Writes @n_bytes more (whatever comes next: replies, sent bytes, the
 * greeting of the next connection), then closes the connection in the
 * middle of whatever it was writing. */
void           qmp_fake_server_close_after  (QmpFakeServer *server,
                                             gsize          n_bytes);
/* From here on, writes at most @chunk_size bytes at a time and waits for
 * the client to have read everything before writing the next piece, so
 * that every read of the client returns at most @chunk_size bytes (1:
 * byte-at-a-time delivery). 0 writes whole pieces again. Do not combine
 * with qmp_fake_server_flush(): the client reads from the test's thread. */
void           qmp_fake_server_set_chunk_size (QmpFakeServer *server,
                                               gsize          chunk_size);
/* Stops reading what the client sends (FALSE), as a hung or overloaded
 * peer does: once the socket buffers are full, the client's writes wait.
 * TRUE reads again. Takes effect, in order with the output queued before
 * it, before this returns. A connection closed meanwhile is noticed once
 * reading again. */
void           qmp_fake_server_set_reading  (QmpFakeServer *server,
                                             gboolean       reading);
/* Drops the connection and listens again on a new socket at the same
 * address, as a restarted QEMU does. */
void           qmp_fake_server_restart      (QmpFakeServer *server);
/* Waits until everything queued so far was written (into the socket
 * buffer: it must fit there, the client is not reading meanwhile). */
void           qmp_fake_server_flush        (QmpFakeServer *server);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QmpFakeServer, qmp_fake_server_free)

G_END_DECLS
