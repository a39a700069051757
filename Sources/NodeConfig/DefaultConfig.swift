extension NodeConfig {
    /// The embedded default configuration: what `stockade run` uses with no `--config`, and
    /// the template `stockade run --print-default-config` prints. Every knob is here with its
    /// origin; a config file overrides any subset of it.
    public static let defaultTOML = """
    # Stockade node configuration. Every key is optional; these are the defaults.

    [node]
    # Client id sent in the devp2p Hello (go-ethereum's Config.Name).
    name = "stockade/0.1"
    # Where the node key is created on first run (go-ethereum's datadir/nodekey).
    state_dir = "/var/lib/stockade"
    # Node key file; empty means <state_dir>/nodekey (created on first run). A file named here must
    # exist, as go-ethereum's --nodekey: a mistyped path is an error, not a new identity.
    key_file = ""
    # TCP listen addresses (go-ethereum's ListenAddr). Ignored under socket activation.
    listen = ["127.0.0.1:30303"]
    # Log level: trace, debug, info, notice, warning, error, critical (`--log-level`). Lines about
    # single connections (failed handshakes, refused connections, sessions) are debug; at info a
    # summary of them is logged once a minute. Applied at start (a reload does not change it).
    log_level = "info"
    # Event loops (threads) the peer manager spreads live links over (`--link-threads`): each
    # link's frame crypto and streams run on one of them, so one loop would cap the node's
    # aggregate throughput at one core. 0 = one per online core; 1 = every link on the run loop
    # that holds the peer set. Applied at start (a reload does not change it).
    link_threads = 0

    [peers]
    # go-ethereum's MaxPeers (its default is 50 with --maxpeers).
    max_peers = 50
    # go-ethereum's MaxPendingPeers default: handshakes in flight at once.
    max_pending = 50
    # go-ethereum's defaultDialRatio: at most max_peers/dial_ratio peers are dialed.
    dial_ratio = 3
    # go-ethereum's NoDial: never dial out (static nodes included).
    no_dial = false
    # enode URLs kept connected and redialed (go-ethereum's StaticNodes).
    static = []
    # enode URLs allowed above the limits (go-ethereum's TrustedNodes).
    trusted = []
    # CIDR allowlist for inbound and outbound peers; empty allows all (go-ethereum's NetRestrict).
    netrestrict = []
    # go-ethereum's inboundThrottleTime: an address that connected this recently is refused.
    inbound_throttle_ms = 30000
    # go-ethereum spares LAN addresses (loopback, private ranges) from the throttle; true throttles them too.
    throttle_lan = false
    # Per-source penalties (as OpenSSH's PerSourcePenalties) for addresses whose connections send
    # garbage, stall handshakes or take workers down with them.
    penalties = true
    # CIDRs never penalised (OpenSSH's PerSourcePenaltyExemptList).
    penalty_exempt = []
    # Handshake slots (of max_pending) kept for the addresses of trusted nodes, so passive
    # connections cannot take every slot from them (go-ethereum issue 29329).
    trusted_pending_slots = 5
    # Untrusted handshakes in flight at once from one /24 (IPv4) or /64 (IPv6) network, and from
    # a tenth of max_pending on, new ones are dropped at random with a chance rising from 30 % to
    # 100 % at max_pending (OpenSSH's MaxStartups 10:30:100 random early drop). LAN sources are
    # spared both, as from the throttle, unless throttle_lan = true. 0 = no per-network limit.
    max_pending_per_network = 10

    [workers]
    # Handshake worker processes; 0 means one per core, at least 2.
    count = 0
    # go-ethereum's handshakeTimeout (5 s): RLPx handshake and Hello under one deadline.
    handshake_timeout_ms = 5000
    # An inbound connection that has sent nothing this long is closed: an honest dialer sends its
    # auth message at once, a silent one would hold a handshake slot the whole handshake_timeout.
    first_bytes_timeout_ms = 2000

    [timeouts]
    # go-ethereum's pingInterval.
    ping_interval_ms = 15000
    # go-ethereum's frameReadTimeout: a peer silent this long is dropped (ReadTimeout).
    read_timeout_ms = 30000
    # go-ethereum's frameWriteTimeout: a write stalled this long drops the peer.
    write_timeout_ms = 20000
    # go-ethereum's defaultDialTimeout.
    dial_timeout_ms = 15000

    [control]
    # Unix control socket (mode 0600); empty means <state_dir>/control.sock. A socket named here
    # that cannot be created ends the start (the default one is only warned about).
    socket = ""

    [metrics]
    # Prometheus text endpoint, e.g. "127.0.0.1:9464"; empty means off.
    listen = ""

    [mux]
    # Sessions (streams) one peer link may hold at once; libp2p's resource manager allows ~512-1024 per peer.
    max_sessions_per_peer = 1024
    # Opens a peer may have unanswered at once: yamux's AcceptBacklog.
    max_pending_opens = 256
    # Largest window one session's auto-tuning may reach (yamux/libp2p cap, 16 MiB); at least 256 KiB, the initial window.
    max_session_window = 16777216
    # Bytes buffered for one peer's sessions (64 MiB, four full windows); at least 1 MiB.
    max_peer_buffer = 67108864
    # Bytes buffered for every session of the node (256 MiB); at least max_peer_buffer. Split
    # evenly over the link loops (`link_threads`), each bounding the sessions of its own links.
    max_total_buffer = 268435456
    # Deadline of a target connect at the exit; below open_timeout_ms, so the entry hears why an open failed.
    connect_timeout_ms = 10000
    # Deadline of an open at the entry (dial, open, connect, reply): go-ethereum's defaultDialTimeout.
    open_timeout_ms = 15000
    # A UDP session with no datagram either way for this long ends (v2ray's connIdle, 300 s).
    udp_idle_timeout_ms = 300000

    [socks5]
    # SOCKS5 entry (RFC 1928, CONNECT, no auth) on IP:port, e.g. "127.0.0.1:1080"; empty means off.
    listen = ""
    # Node ID (or enode URL) of the exit for destinations not named <service>.<id>.stk; empty refuses them.
    default_exit = ""

    # Not set by default (nothing is served, allowed or forwarded): [services] name = "host:port";
    # [[allow]] peers, targets; [[deny]] targets, peers; [[forward]] listen, peer, target, network.
    # See README "Streams". Nothing is allowed unless an [[allow]] rule says so.
    """
}
