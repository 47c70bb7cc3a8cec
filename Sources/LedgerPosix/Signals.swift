// Termination signals as ordinary events on a dedicated thread.
//
// An asynchronous signal handler may only call async-signal-safe functions,
// which rules out nearly everything a graceful drain needs. Instead the
// signals are blocked and one thread collects them with sigwait(2), then calls
// a normal Swift closure. The mask must be blocked in *every* thread, or the
// kernel may deliver SIGTERM to one where it is not blocked and kill the
// process: create the SignalWaiter first thing in main(), before any thread
// (Dispatch, the Swift concurrency pool, our own) exists, so all inherit it.

internal import Glibc

/// The signals Ledger's services react to (Linux numbers).
public enum Signal: Int32, CaseIterable, Sendable, CustomStringConvertible {
    /// SIGHUP: reload or reopen.
    case hangup = 1
    /// SIGINT: Ctrl-C; treated like SIGTERM.
    case interrupt = 2
    /// SIGTERM: systemd's stop; drain and exit.
    case terminate = 15

    public var description: String {
        switch self {
        case .hangup: return "SIGHUP"
        case .interrupt: return "SIGINT"
        case .terminate: return "SIGTERM"
        }
    }
}

/// Waits for signals on its own thread and calls `handler` for each one.
public final class SignalWaiter: @unchecked Sendable {
    // @unchecked: `thread` is set once in init; mutable state lives in `context`, under its lock.
    private let context: Context
    private let thread: pthread_t

    /// Makes writes to a closed socket or pipe fail with EPIPE instead of
    /// killing the process with SIGPIPE. Call once at startup in every program.
    public static func ignoreBrokenPipe() {
        signal(SIGPIPE, SIG_IGN)
    }

    /// Blocks `signals` in the calling thread; threads it starts later inherit
    /// the mask. `init` does this too; call it directly only to block earlier.
    public static func blockInCurrentThread(_ signals: [Signal] = Signal.allCases) {
        var set = signalSet(signals)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Blocks `signals` in the calling thread and starts a thread that waits
    /// for them and calls `handler` (on that thread) for each delivery. The
    /// handler should be quick, e.g. set a flag and wake the main loop via an
    /// `EventFD`. The thread runs until `stop()`.
    public init(_ signals: [Signal] = Signal.allCases, handler: @escaping @Sendable (Signal) -> Void) throws {
        precondition(!signals.isEmpty, "SignalWaiter needs at least one signal")
        SignalWaiter.blockInCurrentThread(signals)
        context = Context(set: SignalWaiter.signalSet(signals), wakeSignal: signals[0].rawValue, handler: handler)
        let argument = Unmanaged.passRetained(context).toOpaque()
        var thread = pthread_t()
        // SAFETY: the new thread takes over the +1 reference passed as its argument.
        let rc = pthread_create(&thread, nil, { argument in
            let context = Unmanaged<Context>.fromOpaque(argument!).takeRetainedValue()
            context.run()
            return nil
        }, argument)
        guard rc == 0 else {
            Unmanaged<Context>.fromOpaque(argument).release()
            throw IOError(errno: rc, reason: "pthread_create(signal waiter)")
        }
        self.thread = thread
    }

    /// Stops the waiting thread and waits for it to finish. The handler is not
    /// called after this returns. The signals stay blocked. Idempotent.
    public func stop() {
        let first = context.lock.withLock { () -> Bool in
            defer { context.stopping = true }
            return !context.stopping
        }
        guard first else { return }
        // A signal aimed at the waiting thread itself, where it is blocked, is
        // taken by its sigwait; the thread then sees `stopping` and exits.
        pthread_kill(thread, context.wakeSignal)
        pthread_join(thread, nil)
    }

    /// The thread id, so tests can direct a signal at it with pthread_kill
    /// rather than signalling the whole test process.
    var threadForTesting: pthread_t { thread }

    private static func signalSet(_ signals: [Signal]) -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal.rawValue) }
        return set
    }

    private final class Context: @unchecked Sendable {
        // @unchecked: `stopping` is only read and written under `lock`.
        let set: sigset_t
        let wakeSignal: Int32
        let handler: @Sendable (Signal) -> Void
        let lock = Lock()
        var stopping = false

        init(set: sigset_t, wakeSignal: Int32, handler: @escaping @Sendable (Signal) -> Void) {
            self.set = set
            self.wakeSignal = wakeSignal
            self.handler = handler
        }

        func run() {
            var set = self.set
            // The creating thread blocked the set before pthread_create, but say
            // it here too: sigwait is only defined for blocked signals.
            pthread_sigmask(SIG_BLOCK, &set, nil)
            while true {
                var number: Int32 = 0
                // sigwait returns an error number (only EINVAL, for a bad set)
                // rather than setting errno.
                guard sigwait(&set, &number) == 0 else { return }
                if lock.withLock({ stopping }) { return }
                if let signal = Signal(rawValue: number) { handler(signal) }
            }
        }
    }
}
