import Foundation

/// Who may use the live page's server, as Jupyter guards its own: requests that carry the
/// server's random token (in the URL it prints, or the cookie the page then gets), addressed
/// to the server by a name it answers to (no DNS rebinding), and, when a browser says where
/// a request comes from, coming from the server's own pages (no cross-site requests).
public struct LiveAccess: Sendable {
  /// The token: 32 random hex digits, new at every start.
  public let token: String
  /// The `Host` values the server answers to: `127.0.0.1:PORT`, `localhost:PORT`,
  /// `[::1]:PORT`, and the address it listens on.
  public let hosts: Set<String>
  /// The cookie that carries the token (one name per port, so two servers never mix).
  public let cookieName: String

  /// Access to a server listening on `host:port`, with a fresh token.
  public init(host: String, port: Int, token: String? = nil) {
    self.token =
      token
      ?? (0..<2).map { _ in String(format: "%016llx", UInt64.random(in: 0...UInt64.max)) }
      .joined()
    let named = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
    hosts = Set(["127.0.0.1", "localhost", "[::1]", named].map { "\($0):\(port)" })
    cookieName = "lessons_token_\(port)"
  }

  /// Why a request is refused, with its HTTP status (403 a foreign `Host` or `Origin`, 401
  /// no token or a wrong one), or nil when it may go on.
  public func refusal(host: String?, origin: String?, token: String?, cookie: String?) -> (
    status: Int, reason: String
  )? {
    guard let host, hosts.contains(host.lowercased()) else {
      return (
        403,
        "refused: this server answers to \(hosts.sorted().joined(separator: ", ")), "
          + "not to \(host ?? "a request without a Host")"
      )
    }
    if let origin, !hosts.contains { "http://\($0)" == origin.lowercased() } {
      return (403, "refused: a request from \(origin), not from this server's own page")
    }
    let given = token ?? cookieValue(in: cookie)
    guard given == self.token else {
      return (401, "refused: open the address with ?token=… that `lessons serve` printed")
    }
    return nil
  }

  /// The `Set-Cookie` value that lets the page's own requests carry the token.
  public var setCookie: String { "\(cookieName)=\(token); HttpOnly; SameSite=Strict; Path=/" }

  private func cookieValue(in header: String?) -> String? {
    header?.split(separator: ";").lazy
      .map { $0.trimmingCharacters(in: .whitespaces) }
      .first { $0.hasPrefix(cookieName + "=") }
      .map { String($0.dropFirst(cookieName.count + 1)) }
  }
}
