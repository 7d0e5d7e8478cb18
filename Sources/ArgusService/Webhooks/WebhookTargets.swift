import Foundation
import Glibc

/// Where webhooks may go: http(s) URLs whose host resolves only to public addresses. Link-local
/// (cloud metadata included), multicast, unspecified and reserved addresses are refused always;
/// private and loopback ones only unless the server runs with `--allow-private-webhooks`. Checked
/// at registration and again before every delivery (a name may change what it resolves to); redirects
/// are never followed.
enum WebhookTargets {
    enum Refusal: Error, CustomStringConvertible {
        case invalid(String)
        var description: String {
            switch self { case .invalid(let why): return why }
        }
    }

    enum Kind { case `public`, `private`, forbidden }

    /// - Returns: the checked addresses (a delivery connects to one of these, never resolving again).
    @discardableResult
    static func check(_ text: String, allowPrivate: Bool) async throws -> [[UInt8]] {
        guard text.utf8.count <= 2048, let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty, url.user == nil, url.password == nil else {
            throw Refusal.invalid("url: expected an http(s) URL without credentials")
        }
        let addresses = try await resolve(host.trimmingCharacters(in: CharacterSet(charactersIn: "[]")), port: url.port ?? (scheme == "https" ? 443 : 80))
        guard !addresses.isEmpty else { throw Refusal.invalid("url: \(host) does not resolve") }
        for address in addresses {
            switch classify(address) {
            case .forbidden: throw Refusal.invalid("url: \(host) resolves to a link-local, multicast or reserved address")
            case .private where !allowPrivate:
                throw Refusal.invalid("url: \(host) resolves to a private or loopback address (allowed only with --allow-private-webhooks)")
            default: continue
            }
        }
        return addresses
    }

    /// An address as a URL host: dotted IPv4, or bracketed IPv6.
    static func urlHost(_ a: [UInt8]) -> String {
        if a.count == 4 { return a.map(String.init).joined(separator: ".") }
        var groups: [String] = []
        for i in stride(from: 0, to: 16, by: 2) { groups.append(String(UInt16(a[i]) << 8 | UInt16(a[i + 1]), radix: 16)) }
        return "[" + groups.joined(separator: ":") + "]"
    }

    /// The addresses of `host`, as raw bytes (4 for IPv4, 16 for IPv6). getaddrinfo blocks, so it runs on a queue of its own.
    static func resolve(_ host: String, port: Int) async throws -> [[UInt8]] {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                var hints = addrinfo()
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
                var result: UnsafeMutablePointer<addrinfo>?
                guard getaddrinfo(host, String(port), &hints, &result) == 0, let first = result else {
                    continuation.resume(returning: [])
                    return
                }
                defer { freeaddrinfo(first) }
                var out: [[UInt8]] = []
                var cursor: UnsafeMutablePointer<addrinfo>? = first
                while let info = cursor {
                    if info.pointee.ai_family == AF_INET, let sa = info.pointee.ai_addr {
                        sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { p in
                            var a = p.pointee.sin_addr
                            out.append(withUnsafeBytes(of: &a) { Array($0) })
                        }
                    } else if info.pointee.ai_family == AF_INET6, let sa = info.pointee.ai_addr {
                        sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { p in
                            var a = p.pointee.sin6_addr
                            out.append(withUnsafeBytes(of: &a) { Array($0) })
                        }
                    }
                    cursor = info.pointee.ai_next
                }
                continuation.resume(returning: out)
            }
        }
    }

    static func classify(_ a: [UInt8]) -> Kind {
        if a.count == 4 { return classify4(a) }
        guard a.count == 16 else { return .forbidden }
        if a.allSatisfy({ $0 == 0 }) { return .forbidden }                                  // ::
        if a.prefix(15).allSatisfy({ $0 == 0 }) && a[15] == 1 { return .private }          // ::1
        if a.prefix(10).allSatisfy({ $0 == 0 }) && a[10] == 0xFF && a[11] == 0xFF { return classify4(Array(a[12...])) }  // ::ffff:v4
        if a.prefix(12).allSatisfy({ $0 == 0 }) { return classify4(Array(a[12...])) }   // ::v4 (IPv4-compatible)
        if a[0] == 0x00 && a[1] == 0x64 && a[2] == 0xFF && a[3] == 0x9B {                 // 64:ff9b::/96 and 64:ff9b:1::/48 (NAT64)
            return a[4...11].allSatisfy({ $0 == 0 }) ? classify4(Array(a[12...])) : .private
        }
        if a[0] == 0x20 && a[1] == 0x02 { return classify4(Array(a[2..<6])) }            // 2002::/16 (6to4)
        if a[0] == 0xFE && a[1] & 0xC0 == 0xC0 { return .forbidden }                       // fec0::/10 (site-local)
        if a[0] == 0xFF { return .forbidden }                                                // multicast
        if a[0] == 0xFE && a[1] & 0xC0 == 0x80 { return .forbidden }                        // fe80::/10 link-local
        if a[0] == 0xFD && a[1] == 0x00 && a[2] == 0x0E && a[3] == 0xC2 { return .forbidden } // fd00:ec2::/32 (cloud metadata)
        if a[0] & 0xFE == 0xFC { return .private }                                          // fc00::/7
        return .public
    }

    static func classify4(_ a: [UInt8]) -> Kind {
        switch (a[0], a[1]) {
        case (0, _), (240...255, _): return .forbidden                  // this network, reserved, broadcast
        case (169, 254): return .forbidden                               // link-local, cloud metadata (169.254.169.254)
        case (224...239, _): return .forbidden                           // multicast
        case (127, _), (10, _), (192, 168): return .private
        case (172, 16...31): return .private
        case (100, 64...127): return .private                            // shared address space
        case (198, 18...19): return .private                             // benchmarking
        case (192, 0) where a[2] == 0 || a[2] == 2: return .forbidden    // IETF protocol assignments, TEST-NET-1
        case (198, 51) where a[2] == 100, (203, 0) where a[2] == 113: return .forbidden   // TEST-NET-2, -3
        default: return .public
        }
    }
}
