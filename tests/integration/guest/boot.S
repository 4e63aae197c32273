/* boot.S: a boot sector that fills a disk, for thin-provisioning tests
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 *
 * SeaBIOS boots it from BIOS drive 0x80. It writes BIOS drive 0x81, the
 * data disk, from LBA 0 to its end with int 13h extended writes of 64
 * sectors (32 KiB), every byte 0x5A. A failed write is retried forever at
 * the same LBA (with werror=stop QEMU pauses the VM instead, and the
 * guest never sees the failure).
 *
 * The 16-bit word at offset 508 (PACE, just before the boot signature)
 * sets the write rate: at most that many 32 KiB writes per BIOS timer
 * tick (18.2065 Hz, the PIT's IRQ 0, which stands still while the VM is
 * paused), so about PACE × 0.569 MiB/s; 0, as built, writes as fast as
 * it can. A test patches it in its copy of the sector. It reports on
 * COM1:
 *
 *   BOOT               started
 *   SIZE xxxxxxxx      the data disk's size in sectors (hex)
 *   W xxxxxxxx         every 512 KiB: the next LBA
 *   E ss xxxxxxxx      first failure at an LBA: int 13h status, LBA
 *   R xxxx             every 256 retries
 *   DONE xxxxxxxx      finished at that LBA; then it halts
 */

        .code16
        .intel_syntax noprefix
        .text
        .globl  _start

        .set    DAP, 0x500              /* disk address packet */
        .set    PARAMS, 0x520           /* drive parameters (AH=48h) */
        .set    LBA, 0x600              /* next sector to write */
        .set    SIZE, 0x604             /* sectors on the data disk */
        .set    COUNT, 0x608            /* sectors in the current write */
        .set    RETRIES, 0x60c
        .set    FAILED, 0x60e           /* the write at LBA failed already */
        .set    INTICK, 0x610           /* writes in the current tick */
        .set    LASTTICK, 0x614         /* the tick they are in */
        .set    TICKS, 0x46c            /* the BIOS tick count, 18.2 Hz */
        .set    BUFSEG, 0x1000          /* 32 KiB of 0x5A at 0x10000 */
        .set    DATA_DRIVE, 0x81
        .set    COM1, 0x3f8

_start:
        cli
        xor     ax, ax
        mov     ds, ax
        mov     ss, ax
        mov     sp, 0x7c00
        sti

        lea     si, msg_boot
        call    puts

        /* The buffer every write sends. */
        mov     ax, BUFSEG
        mov     es, ax
        xor     di, di
        mov     cx, 0x4000
        mov     ax, 0x5a5a
        cld
        rep     stosw

        /* The disk's size in sectors. */
        mov     word ptr [PARAMS], 0x1e
        mov     si, PARAMS
        mov     ah, 0x48
        mov     dl, DATA_DRIVE
        int     0x13
        mov     eax, [PARAMS + 0x10]
        mov     [SIZE], eax
        lea     si, msg_size
        call    puts
        call    hex32
        call    newline

        xor     eax, eax
        mov     [LBA], eax
        mov     [RETRIES], ax
        mov     [FAILED], al
        mov     [INTICK], ax
        mov     eax, [TICKS]
        mov     [LASTTICK], eax

next:
        mov     eax, [LBA]
        mov     ecx, [SIZE]
        sub     ecx, eax
        jbe     done
        cmp     ecx, 64
        jbe     1f
        mov     ecx, 64
1:      mov     [COUNT], cx

        mov     word ptr [DAP], 0x10
        mov     [DAP + 2], cx
        mov     word ptr [DAP + 4], 0
        mov     word ptr [DAP + 6], BUFSEG
        mov     [DAP + 8], eax
        mov     dword ptr [DAP + 12], 0
        mov     si, DAP
        mov     ax, 0x4300
        mov     dl, DATA_DRIVE
        int     0x13
        jc      failed

        mov     byte ptr [FAILED], 0
        movzx   ecx, word ptr [COUNT]
        add     [LBA], ecx
        call    pace
        test    word ptr [LBA], 1023
        jnz     next
        lea     si, msg_w
        call    puts
        mov     eax, [LBA]
        call    hex32
        call    newline
        jmp     next

failed:
        cmp     byte ptr [FAILED], 0
        jne     retry
        mov     byte ptr [FAILED], 1
        push    ax
        lea     si, msg_e
        call    puts
        pop     ax
        movzx   eax, ah
        shl     eax, 24
        mov     cx, 2
        call    hexn
        mov     al, ' '
        call    putc
        mov     eax, [LBA]
        call    hex32
        call    newline
retry:
        inc     word ptr [RETRIES]
        test    word ptr [RETRIES], 255
        jnz     next
        lea     si, msg_r
        call    puts
        movzx   eax, word ptr [RETRIES]
        shl     eax, 16
        mov     cx, 4
        call    hexn
        call    newline
        jmp     next

done:
        lea     si, msg_done
        call    puts
        mov     eax, [LBA]
        call    hex32
        call    newline
halt:
        cli
        hlt
        jmp     halt

/* After a write: once PACE writes were made in this tick, waits for the
 * next one. */
pace:
        mov     cx, [pace_writes]
        jcxz    2f
        mov     eax, [TICKS]
        cmp     eax, [LASTTICK]
        je      1f
        mov     [LASTTICK], eax
        mov     word ptr [INTICK], 0
1:      inc     word ptr [INTICK]
        cmp     [INTICK], cx
        jb      2f
3:      hlt
        cmp     eax, [TICKS]
        je      3b
        mov     eax, [TICKS]
        mov     [LASTTICK], eax
        mov     word ptr [INTICK], 0
2:      ret

/* Prints EAX as 8 hex digits. */
hex32:
        mov     cx, 8
/* Prints the CX top hex digits of EAX. */
hexn:
        rol     eax, 4
        push    ax
        and     al, 0x0f
        add     al, '0'
        cmp     al, '9'
        jbe     1f
        add     al, 'A' - '9' - 1
1:      call    putc
        pop     ax
        loop    hexn
        ret

newline:
        lea     si, msg_nl
/* Prints the NUL-terminated string at SI. */
puts:
        lodsb
        test    al, al
        jz      1f
        call    putc
        jmp     puts
1:      ret

putc:
        push    dx
        mov     dx, COM1
        out     dx, al
        pop     dx
        ret

msg_boot:  .asciz "BOOT\r\n"
msg_size:  .asciz "SIZE "
msg_w:     .asciz "W "
msg_e:     .asciz "E "
msg_r:     .asciz "R "
msg_done:  .asciz "DONE "
msg_nl:    .asciz "\r\n"

        .org    508
pace_writes:
        .word   0                       /* PACE: see the top */
        .word   0xaa55
