/* qmp-errors.c: error domains of libqmpthin
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#include <string.h>

#include <qmpthin/qmp-errors.h>
#include <qmpthin/qmp-enum-types.h>

#include "qmp-errors-private.h"

/**
 * SECTION:qmp-errors
 * @Title: Errors
 * @Short_description: Error domains of libqmpthin
 *
 * libqmpthin reports three kinds of failures, each in its own domain:
 *
 * - transport failures as #G_IO_ERROR: %G_IO_ERROR_CLOSED for a call in
 *   flight when the connection ended (QEMU exited, the socket was reset,
 *   or the caller closed the client), %G_IO_ERROR_TIMED_OUT when a command
 *   or the connection attempt took longer than its timeout,
 *   %G_IO_ERROR_CANCELLED when the caller cancelled the call; connecting
 *   to a UNIX socket also fails with %G_IO_ERROR_NOT_FOUND (no socket
 *   there), %G_IO_ERROR_NOT_SUPPORTED (not a socket) or
 *   %G_IO_ERROR_CONNECTION_REFUSED (nothing listens on it);
 * - #QMP_ERROR for what the library itself found wrong: a missing or
 *   invalid greeting, malformed JSON, a message over the size limit (such
 *   a peer cannot be trusted any more: the client closes the connection,
 *   and every pending call fails), and %QMP_ERROR_NOT_CONNECTED for a call
 *   made while the client has no connection: before its first connect,
 *   while it connects or reconnects, after it was closed or lost its
 *   connection. One rule: a call that was never sent is NOT_CONNECTED, a
 *   call the end of a connection caught in flight is %G_IO_ERROR_CLOSED;
 * - #QMP_COMMAND_ERROR for errors QEMU returned for a command. The message
 *   is QEMU's own text, and qmp_command_error_get_class_name() gives QEMU's
 *   error class even when the code is %QMP_COMMAND_ERROR_UNKNOWN: for such
 *   a class, one this version of the library does not know, the message
 *   ends with " (QEMU error class NAME)", so that copies of the error
 *   made by language bindings keep the class too.
 *
 * |[<!-- language="C" -->
 * g_autoptr(GError) error = NULL;
 * g_autoptr(JsonNode) ret = qmp_client_execute_sync (client, "cont", NULL, NULL, &error);
 *
 * if (g_error_matches (error, QMP_COMMAND_ERROR, QMP_COMMAND_ERROR_GENERIC_ERROR))
 *   g_printerr ("QEMU refused: %s\n", error->message);
 * ]|
 */

G_DEFINE_QUARK (qmp-error-quark, qmp_error)

typedef struct
{
  char *class_name;
} QmpCommandErrorPrivate;

static void
qmp_command_error_private_init (QmpCommandErrorPrivate *priv)
{
  priv->class_name = NULL;
}

static void
qmp_command_error_private_copy (const QmpCommandErrorPrivate *src,
                                QmpCommandErrorPrivate       *dest)
{
  dest->class_name = g_strdup (src->class_name);
}

static void
qmp_command_error_private_clear (QmpCommandErrorPrivate *priv)
{
  g_clear_pointer (&priv->class_name, g_free);
}

/* An extended error domain: every error carries QEMU's class name as
 * QEMU spelled it, so that a class this version does not know stays
 * readable. */
G_DEFINE_EXTENDED_ERROR (QmpCommandError, qmp_command_error)

/**
 * qmp_error_quark:
 *
 * The quark of the #QMP_ERROR domain.
 *
 * Returns: the error domain
 *
 * Since: 1.0
 */

/**
 * qmp_command_error_quark:
 *
 * The quark of the #QMP_COMMAND_ERROR domain.
 *
 * Returns: the error domain
 *
 * Since: 1.0
 */

static const struct {
  const char *name;
  QmpCommandError code;
} command_error_classes[] = {
  { "GenericError", QMP_COMMAND_ERROR_GENERIC_ERROR },
  { "CommandNotFound", QMP_COMMAND_ERROR_COMMAND_NOT_FOUND },
  { "DeviceNotActive", QMP_COMMAND_ERROR_DEVICE_NOT_ACTIVE },
  { "DeviceNotFound", QMP_COMMAND_ERROR_DEVICE_NOT_FOUND },
  { "KVMMissingCap", QMP_COMMAND_ERROR_KVM_MISSING_CAP },
};

/**
 * qmp_command_error_from_class:
 * @class_name: an error class as QEMU names it, e.g. "GenericError"
 *
 * Maps a QEMU error class to its #QmpCommandError code.
 *
 * Returns: the code, or %QMP_COMMAND_ERROR_UNKNOWN for a class this version
 *   of the library does not know
 *
 * Since: 1.0
 */
QmpCommandError
qmp_command_error_from_class (const char *class_name)
{
  g_return_val_if_fail (class_name != NULL, QMP_COMMAND_ERROR_UNKNOWN);

  for (gsize i = 0; i < G_N_ELEMENTS (command_error_classes); i++)
    if (strcmp (command_error_classes[i].name, class_name) == 0)
      return command_error_classes[i].code;
  return QMP_COMMAND_ERROR_UNKNOWN;
}

/* QEMU's class name of a known code; NULL for UNKNOWN. */
static const char *
class_of_code (QmpCommandError code)
{
  for (gsize i = 0; i < G_N_ELEMENTS (command_error_classes); i++)
    if (command_error_classes[i].code == code)
      return command_error_classes[i].name;
  return NULL;
}

#define UNKNOWN_CLASS_MARK " (QEMU error class "

/* The class an error of an unknown class names at the end of its
 * message; NULL when it names none. */
static char *
class_from_message (const char *message)
{
  const char *mark = message != NULL ? g_strrstr (message, UNKNOWN_CLASS_MARK) : NULL;
  const char *name;
  gsize length;

  if (mark == NULL)
    return NULL;
  name = mark + strlen (UNKNOWN_CLASS_MARK);
  length = strlen (name);
  if (length < 2 || name[length - 1] != ')')
    return NULL;
  for (gsize i = 0; i + 1 < length; i++)
    if (!g_ascii_isalnum (name[i]) && name[i] != '_' && name[i] != '-')
      return NULL;
  return g_strndup (name, length - 1);
}

/**
 * qmp_command_error_get_class_name:
 * @error: an error of the #QMP_COMMAND_ERROR domain
 *
 * Gives QEMU's error class of @error as QEMU spelled it, also for a class
 * this version of the library does not know, and also from a copy of the
 * error that kept only its domain, code and message (as language bindings
 * make).
 *
 * Returns: (nullable): the class name, or %NULL if @error is not in the
 *   #QMP_COMMAND_ERROR domain, or is of an unknown class and was not made
 *   by libqmpthin
 *
 * Since: 1.0
 */
const char *
qmp_command_error_get_class_name (const GError *error)
{
  QmpCommandErrorPrivate *priv;

  g_return_val_if_fail (error != NULL, NULL);

  priv = qmp_command_error_get_private (error);
  if (priv == NULL)
    return NULL;
  if (priv->class_name == NULL && error->code == QMP_COMMAND_ERROR_UNKNOWN)
    priv->class_name = class_from_message (error->message);
  return priv->class_name != NULL ? priv->class_name : class_of_code (error->code);
}

GError *
_qmp_command_error_new (const char *class_name,
                        const char *desc)
{
  QmpCommandError code = qmp_command_error_from_class (class_name);
  GError *error;
  QmpCommandErrorPrivate *priv;

  /* A class this version does not know: named in the message too, which
   * is all a binding's copy of the error keeps. */
  if (code == QMP_COMMAND_ERROR_UNKNOWN)
    error = g_error_new (QMP_COMMAND_ERROR, code, "%s" UNKNOWN_CLASS_MARK "%s)", desc, class_name);
  else
    error = g_error_new_literal (QMP_COMMAND_ERROR, code, desc);
  priv = qmp_command_error_get_private (error);
  priv->class_name = g_strdup (class_name);
  return error;
}
