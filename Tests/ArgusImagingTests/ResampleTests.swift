import Testing
@testable import ArgusImaging

@Suite("Grayscale, resize and affine warp")
struct ResampleTests {
    @Test("grayscale uses BT.601 weights")
    func grayscale() {
        let image = RGBImage(width: 4, height: 1, pixels: [255, 0, 0, 0, 255, 0, 0, 0, 255, 200, 200, 200])
        #expect(image.grayscale().pixels == [76, 150, 29, 200])
    }

    @Test("resize keeps constants constant and identity sizes unchanged")
    func resizeBasics() {
        let flat = RGBImage(width: 13, height: 7, pixels: [UInt8](repeating: 77, count: 13 * 7 * 3))
        #expect(flat.resized(width: 31, height: 5).pixels.allSatisfy { $0 == 77 })
        let g = TestImages.gradient()
        #expect(g.resized(width: g.width, height: g.height) == g)
    }

    @Test("halving averages 2×2 blocks")
    func halving() {
        var image = RGBImage(width: 4, height: 2)
        for x in 0..<4 { for y in 0..<2 { let v: UInt8 = (x + y) % 2 == 0 ? 0 : 200; let i = (y * 4 + x) * 3; image.pixels[i] = v; image.pixels[i + 1] = v; image.pixels[i + 2] = v } }
        let half = image.resized(width: 2, height: 1)
        #expect(half.pixels.allSatisfy { $0 == 100 })
    }

    @Test("warp by an integer translation shifts pixels and fills black")
    func translation() {
        let g = TestImages.gradient(width: 20, height: 10)
        let shifted = g.warped(width: 20, height: 10, sourceFromDestination: AffineTransform(a: 1, b: 0, c: 0, d: 1, tx: -3, ty: 2))
        for y in 0..<10 {
            for x in 0..<20 {
                let sx = x - 3, sy = y + 2
                let expected = (sx >= 0 && sy < 10) ? g[sx, sy] : (0, 0, 0)
                #expect(shifted[x, y] == expected)
            }
        }
        #expect(g.warped(width: 20, height: 10, sourceFromDestination: .identity) == g)
    }

    @Test("affine inverse and composition")
    func affine() throws {
        let m = AffineTransform(a: 0.8, b: -0.6, c: 0.6, d: 0.8, tx: 12, ty: -4)
        let inv = try #require(m.inverted())
        let p = inv.concatenating(m).apply(x: 3.5, y: -7)
        #expect(abs(p.x - 3.5) < 1e-12 && abs(p.y + 7) < 1e-12)
        #expect(AffineTransform(a: 1, b: 2, c: 2, d: 4, tx: 0, ty: 0).inverted() == nil)
    }
}
