// What the server wrote into the page: sizes, lengths, restrictions, and the
// data of a server-rendered page (a shared post).
const node = document.getElementById("fabula-config");
export const config = node ? JSON.parse(node.textContent) : { sizes: ["64x64"], seconds: [1], restrictions: [], data: {} };
