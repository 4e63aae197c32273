/* qmp-message.h: classification and validation of QMP messages (private)
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(QMPTHIN_COMPILATION)
#error "qmp-message.h is private to libqmpthin."
#endif

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

typedef enum {
  QMP_MESSAGE_GREETING,
  QMP_MESSAGE_RETURN,
  QMP_MESSAGE_ERROR,
  QMP_MESSAGE_EVENT,
} QmpMessageKind;

/* One validated message from the server. Every pointer is owned by the
 * message and lives as long as it; members not listed for a kind are
 * NULL / 0. */
typedef struct {
  QmpMessageKind kind;
  JsonNode *root;               /* the whole message (an object) */

  /* RETURN and ERROR: the echoed id, any JSON type; NULL when absent. */
  JsonNode *id;

  /* RETURN: the value of "return" (any JSON type). */
  JsonNode *value;

  /* ERROR: "class" and "desc". */
  const char *error_class;
  const char *error_desc;

  /* EVENT: name, timestamp in microseconds since the epoch (-1 when QEMU
   * sent none) and "data" (NULL when absent: STOP and RESUME carry none). */
  const char *event_name;
  gint64 timestamp_usec;
  JsonObject *event_data;

  /* GREETING: the version triple, package string and capabilities. */
  guint qemu_major;
  guint qemu_minor;
  guint qemu_micro;
  const char *qemu_package;
  JsonArray *capabilities;
} QmpMessage;

typedef struct _QmpMessageParser QmpMessageParser;

QmpMessageParser *_qmp_message_parser_new   (void);
void              _qmp_message_parser_free  (QmpMessageParser *parser);
QmpMessage       *_qmp_message_parser_parse (QmpMessageParser *parser,
                                            const char       *text,
                                            gssize            length,
                                            GError          **error);

QmpMessage       *_qmp_message_new_from_node (JsonNode        *root,
                                             GError         **error);
void              _qmp_message_free          (QmpMessage      *message);

gboolean          _qmp_message_id_equal      (JsonNode        *a,
                                             JsonNode        *b);
char             *_qmp_message_id_to_string  (JsonNode        *id);

char             *_qmp_message_build_command (const char      *command,
                                             JsonObject      *arguments,
                                             const char      *id,
                                             gsize           *length);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (QmpMessage, _qmp_message_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (QmpMessageParser, _qmp_message_parser_free)

G_END_DECLS
