import Enode

/// Validation of enode URLs in the config, by the same parser the daemon uses at run time, so
/// a URL the daemon would drop (a short node ID, a host name, a bad port) is an error in the file.
enum EnodeCheck {
    /// nil when `url` is a valid enode URL written with its `enode://` prefix, else why not.
    static func problem(_ url: String) -> String? {
        guard url.hasPrefix("enode://") else { return "not an enode URL (must start with enode://): \(url)" }
        do { _ = try EnodeURL(parsing: url) } catch { return "not a valid enode URL: \(error): \(url)" }
        return nil
    }

    /// A static node is dialed, so its URL must also name an IP address and a TCP port.
    static func staticProblem(_ url: String) -> String? {
        if let problem = problem(url) { return problem }
        guard let parsed = try? EnodeURL(parsing: url), !parsed.isIncomplete, parsed.tcpPort != 0 else {
            return "a static node needs an address to dial (enode://<id>@<ip>:<port>): \(url)"
        }
        return nil
    }
}
