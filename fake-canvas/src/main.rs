fn main() {
    println!("fake-canvas: not yet implemented");
}
