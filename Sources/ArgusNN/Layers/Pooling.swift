/// Max or average pooling with dlib's rules (spec §3.4): the window is clipped to the input and
/// padding never counts as a value; a window of 0 means the whole input (global pooling).
public struct Pooling: Sendable, Equatable {
    public enum Kind: Sendable { case max, average }
    public let kind: Kind
    public let windowHeight: Int
    public let windowWidth: Int
    public let strideY: Int
    public let strideX: Int
    public let padY: Int
    public let padX: Int

    public init(kind: Kind, windowHeight: Int, windowWidth: Int, strideY: Int, strideX: Int, padY: Int = 0, padX: Int = 0) {
        (self.kind, self.windowHeight, self.windowWidth) = (kind, windowHeight, windowWidth)
        (self.strideY, self.strideX, self.padY, self.padX) = (strideY, strideX, padY, padX)
    }

    public var isGlobal: Bool { windowHeight == 0 || windowWidth == 0 }

    public func window(for input: Shape) -> (height: Int, width: Int) {
        (windowHeight == 0 ? input.height : windowHeight, windowWidth == 0 ? input.width : windowWidth)
    }

    public func outputShape(_ input: Shape) -> Shape? {
        let (wh, ww) = window(for: input)
        let h = input.height + 2 * padY - wh, w = input.width + 2 * padX - ww
        guard h >= 0, w >= 0, strideY > 0, strideX > 0 else { return nil }
        return Shape(n: input.n, height: 1 + h / strideY, width: 1 + w / strideX, channels: input.channels)
    }
}
