extension StringProtocol {
    /// The string without leading and trailing characters from `set`.
    func trimmed(of set: String) -> Substring {
        let s = Substring(self)
        guard let first = s.firstIndex(where: { !set.contains($0) }) else { return "" }
        let last = s.lastIndex(where: { !set.contains($0) })!
        return s[first...last]
    }
}
