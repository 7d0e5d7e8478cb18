import Testing
@testable import ArgusService

/// Where webhooks may go, address by address (the classes a review tried, each with its answer).
@Suite("Webhook targets: address classes")
struct WebhookTargetTests {
    static func v6(_ groups: [UInt16]) -> [UInt8] { groups.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] } }

    @Test("public, private and forbidden addresses, embedded IPv4 included")
    func classes() {
        #expect(WebhookTargets.classify([8, 8, 8, 8]) == .public)
        #expect(WebhookTargets.classify([127, 0, 0, 1]) == .private)
        #expect(WebhookTargets.classify([10, 1, 2, 3]) == .private)
        #expect(WebhookTargets.classify([198, 18, 0, 1]) == .private)
        for forbidden: [UInt8] in [[169, 254, 169, 254], [0, 0, 0, 0], [224, 0, 0, 1], [255, 255, 255, 255], [192, 0, 0, 1], [192, 0, 2, 1],
                                   [198, 51, 100, 1], [203, 0, 113, 1]] {
            #expect(WebhookTargets.classify(forbidden) == .forbidden, "\(forbidden)")
        }
        #expect(WebhookTargets.classify(Self.v6([0x2001, 0x4860, 0, 0, 0, 0, 0, 0x8888])) == .public)
        #expect(WebhookTargets.classify(Self.v6([0, 0, 0, 0, 0, 0, 0, 1])) == .private)                  // ::1
        #expect(WebhookTargets.classify(Self.v6([0, 0, 0, 0, 0, 0, 0x7F00, 1])) == .private)             // ::127.0.0.1
        #expect(WebhookTargets.classify(Self.v6([0, 0, 0, 0, 0, 0xFFFF, 0xA9FE, 0xA9FE])) == .forbidden) // ::ffff:169.254.169.254
        #expect(WebhookTargets.classify(Self.v6([0x64, 0xFF9B, 0, 0, 0, 0, 0x7F00, 1])) == .private)     // NAT64 of loopback
        #expect(WebhookTargets.classify(Self.v6([0x64, 0xFF9B, 0, 0, 0, 0, 0xA9FE, 0xA9FE])) == .forbidden)
        #expect(WebhookTargets.classify(Self.v6([0x2002, 0x7F00, 0x0001, 0, 0, 0, 0, 0])) == .private)   // 6to4 of loopback
        #expect(WebhookTargets.classify(Self.v6([0xFEC0, 0, 0, 0, 0, 0, 0, 1])) == .forbidden)           // site-local
        #expect(WebhookTargets.classify(Self.v6([0xFE80, 0, 0, 0, 0, 0, 0, 1])) == .forbidden)
        #expect(WebhookTargets.classify(Self.v6([0xFF02, 0, 0, 0, 0, 0, 0, 1])) == .forbidden)
        #expect(WebhookTargets.classify(Self.v6([0xFD00, 0x0EC2, 0, 0, 0, 0, 0, 0x254])) == .forbidden)
        #expect(WebhookTargets.urlHost([127, 0, 0, 1]) == "127.0.0.1")
    }
}
