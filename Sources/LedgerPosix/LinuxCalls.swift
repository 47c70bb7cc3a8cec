// Linux calls that Swift's Glibc module does not import.
//
// The module is built without _GNU_SOURCE and does not include <sys/epoll.h> or
// <sys/eventfd.h>, so `epoll_*`, `eventfd`, `accept4` and `struct ucred` are
// missing, and Package.swift gives LedgerPosix no C shim target. We resolve the
// functions once with dlsym and call them through `@convention(c)` pointers,
// which use the C calling convention exactly (unlike `@_silgen_name`). The
// constants and layouts are the kernel's uapi, stable by Linux's ABI promise;
// each names its header.

internal import Glibc

enum LinuxCalls {
    typealias EpollCreate1 = @convention(c) (Int32) -> Int32
    typealias EpollCtl = @convention(c) (Int32, Int32, Int32, UnsafeMutableRawPointer?) -> Int32
    typealias EpollWait = @convention(c) (Int32, UnsafeMutableRawPointer?, Int32, Int32) -> Int32
    typealias EventFD = @convention(c) (UInt32, Int32) -> Int32
    typealias Accept4 = @convention(c) (
        Int32, UnsafeMutablePointer<sockaddr>?, UnsafeMutablePointer<socklen_t>?, Int32
    ) -> Int32

    static let epollCreate1: EpollCreate1 = resolve("epoll_create1")
    static let epollCtl: EpollCtl = resolve("epoll_ctl")
    static let epollWait: EpollWait = resolve("epoll_wait")
    static let eventfd: EventFD = resolve("eventfd")
    static let accept4: Accept4 = resolve("accept4")

    // <sys/epoll.h>
    static let EPOLL_CLOEXEC: Int32 = O_CLOEXEC
    static let EPOLL_CTL_ADD: Int32 = 1
    static let EPOLL_CTL_DEL: Int32 = 2
    static let EPOLL_CTL_MOD: Int32 = 3
    // <bits/eventfd.h>
    static let EFD_CLOEXEC: Int32 = O_CLOEXEC
    static let EFD_NONBLOCK: Int32 = O_NONBLOCK

    // struct epoll_event { uint32_t events; epoll_data_t data; } is packed on
    // x86_64 only (glibc's __EPOLL_PACKED), so stride and data offset differ.
    #if arch(x86_64)
    static let epollEventStride = 12
    static let epollEventDataOffset = 4
    #else
    static let epollEventStride = 16
    static let epollEventDataOffset = 8
    #endif

    // <bits/socket.h>: struct ucred { pid_t pid; uid_t uid; gid_t gid; }, 12 bytes.
    static let ucredSize = 12

    private static func resolve<F>(_ name: String) -> F {
        // SAFETY: a null handle is RTLD_DEFAULT, which searches libc (always
        // loaded). The typealiases above match the man-page prototypes, and F is
        // always one of them: a pointer-sized C function type.
        guard let symbol = dlsym(nil, name) else {
            fatalError("libc has no \(name); LedgerPosix needs Linux with glibc")
        }
        return unsafeBitCast(symbol, to: F.self)
    }
}
