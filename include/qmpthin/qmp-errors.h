/* qmp-errors.h: error domains of libqmpthin
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

#pragma once

#if !defined(__QMPTHIN_INSIDE__) && !defined(QMPTHIN_COMPILATION)
#error "Only <qmpthin/qmpthin.h> can be included directly."
#endif

#include <glib.h>
#include <qmpthin/qmp-version.h>

G_BEGIN_DECLS

/**
 * QMP_ERROR:
 *
 * Error domain for failures detected by libqmpthin itself: a peer that
 * does not speak QMP, breaks the protocol, or sends more than the limits
 * allow. Errors in this domain use the #QmpError enumeration.
 *
 * Since: 1.0
 */
#define QMP_ERROR (qmp_error_quark ())

/**
 * QMP_COMMAND_ERROR:
 *
 * Error domain for errors QEMU returned for a command. The code mirrors
 * QEMU's error class (#QmpCommandError), the message is QEMU's `desc`
 * text unchanged, and qmp_command_error_get_class_name() gives the class
 * as QEMU spelled it.
 *
 * Since: 1.0
 */
#define QMP_COMMAND_ERROR (qmp_command_error_quark ())

/**
 * QmpError:
 * @QMP_ERROR_FAILED: a failure that fits no other code
 * @QMP_ERROR_INVALID_GREETING: the peer's first message is not a QMP greeting
 * @QMP_ERROR_PROTOCOL: the peer sent something that is not valid QMP
 *   (malformed JSON, a message that is not an object, members of the
 *   wrong type); the connection is closed because it cannot be trusted
 * @QMP_ERROR_MESSAGE_TOO_LARGE: a message exceeds #QmpClient:max-message-size
 * @QMP_ERROR_NESTING_TOO_DEEP: a message nests arrays and objects deeper
 *   than the library parses safely
 * @QMP_ERROR_NEGOTIATION_FAILED: QEMU refused `qmp_capabilities`
 * @QMP_ERROR_NOT_CONNECTED: the client is not ready to execute commands
 * @QMP_ERROR_MAXIMUM_SIZE: a thin disk needs more storage but reached its
 *   #QmpThinDisk:maximum-size (see #QmpThinMonitor::error)
 * @QMP_ERROR_IMPROBABLE_ALLOCATION: a thin disk's allocation is past
 *   anything its guest could have written (its #QmpThinDisk:maximum-size):
 *   the monitor stops extending it (see #QmpThinMonitor::error)
 *
 * Error codes of the #QMP_ERROR domain.
 *
 * Since: 1.0
 */
typedef enum {
  QMP_ERROR_FAILED,
  QMP_ERROR_INVALID_GREETING,
  QMP_ERROR_PROTOCOL,
  QMP_ERROR_MESSAGE_TOO_LARGE,
  QMP_ERROR_NESTING_TOO_DEEP,
  QMP_ERROR_NEGOTIATION_FAILED,
  QMP_ERROR_NOT_CONNECTED,
  QMP_ERROR_MAXIMUM_SIZE,
  QMP_ERROR_IMPROBABLE_ALLOCATION,
} QmpError;

/**
 * QmpCommandError:
 * @QMP_COMMAND_ERROR_UNKNOWN: an error class this version of the library
 *   does not know; qmp_command_error_get_class_name() returns it
 * @QMP_COMMAND_ERROR_GENERIC_ERROR: QEMU's `GenericError`, used for most
 *   failures
 * @QMP_COMMAND_ERROR_COMMAND_NOT_FOUND: `CommandNotFound`: the command does
 *   not exist, or is not allowed in the current negotiation state
 * @QMP_COMMAND_ERROR_DEVICE_NOT_ACTIVE: `DeviceNotActive`
 * @QMP_COMMAND_ERROR_DEVICE_NOT_FOUND: `DeviceNotFound`
 * @QMP_COMMAND_ERROR_KVM_MISSING_CAP: `KVMMissingCap`
 *
 * Error codes of the #QMP_COMMAND_ERROR domain, one per QEMU error class.
 *
 * Since: 1.0
 */
typedef enum {
  QMP_COMMAND_ERROR_UNKNOWN,
  QMP_COMMAND_ERROR_GENERIC_ERROR,
  QMP_COMMAND_ERROR_COMMAND_NOT_FOUND,
  QMP_COMMAND_ERROR_DEVICE_NOT_ACTIVE,
  QMP_COMMAND_ERROR_DEVICE_NOT_FOUND,
  QMP_COMMAND_ERROR_KVM_MISSING_CAP,
} QmpCommandError;

QMP_AVAILABLE_IN_1_0
GQuark            qmp_error_quark                  (void);
QMP_AVAILABLE_IN_1_0
GQuark            qmp_command_error_quark          (void);

QMP_AVAILABLE_IN_1_0
QmpCommandError   qmp_command_error_from_class     (const char   *class_name);
QMP_AVAILABLE_IN_1_0
const char       *qmp_command_error_get_class_name (const GError *error);


G_END_DECLS
