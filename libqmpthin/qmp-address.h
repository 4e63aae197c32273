/* qmp-address.h: QMP addresses, parsed, opened and told apart (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QMPTHIN_COMPILATION)
#error "qmp-address.h is private to libqmpthin."
#endif

#include <sys/types.h>
#include <time.h>

#include <gio/gio.h>

G_BEGIN_DECLS

typedef struct _QmpAddress QmpAddress;

/* What trying again can do for an open that failed. */
typedef enum {
  QMP_ADDRESS_FAILED,           /* nothing: the error is final for this connect */
  QMP_ADDRESS_RETRY,            /* the backlog is full: until the connect timeout */
  QMP_ADDRESS_RETRY_BRIEFLY,    /* nothing listens: QEMU may be between bind() and listen() */
} QmpAddressRetry;

/* The identity of a UNIX socket file: QEMU creates it anew when it starts,
 * so another one is another QEMU. Inode numbers are reused at once, hence
 * the change time. */
typedef struct {
  gboolean known;
  dev_t dev;
  ino_t ino;
  struct timespec ctime;
} QmpSocketIdentity;

QmpAddress         *_qmp_address_parse            (const char         *text,
                                                   GError            **error);
void                _qmp_address_free             (QmpAddress         *address);
const char         *_qmp_address_get_text         (QmpAddress         *address);
const char         *_qmp_address_get_path         (QmpAddress         *address);
GSocketConnectable *_qmp_address_get_connectable  (QmpAddress         *address);

GIOStream          *_qmp_address_open_unix        (QmpAddress         *address,
                                                   GError            **error);
GError             *_qmp_address_explain_failure  (QmpAddress         *address,
                                                   const GError       *error,
                                                   QmpAddressRetry    *retry);

gboolean            _qmp_address_read_identity    (QmpAddress         *address,
                                                   QmpSocketIdentity  *identity);
gboolean            _qmp_socket_identity_equal    (const QmpSocketIdentity *a,
                                                   const QmpSocketIdentity *b);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QmpAddress, _qmp_address_free)

G_END_DECLS
