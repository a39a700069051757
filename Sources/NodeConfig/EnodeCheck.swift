/// Validation of enode URLs in the config.
enum EnodeCheck {
    static func problem(_ url: String) -> String? {
        guard url.hasPrefix("enode://") else { return "not an enode URL (must start with enode://): \(url)" }
        return nil
    }
}
