fn main() {
    println!("canvas-sis");
}
