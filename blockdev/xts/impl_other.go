//go:build !amd64 || purego

package xts

// asmKeys is empty where there is no assembly path.
type asmKeys struct{}

func (*asmKeys) expand([]byte) {}
func (*asmKeys) wipe()         {}

// implementations lists the implementations this machine supports, fastest
// first.
func implementations() []implementation { return []implementation{implGo} }

func bestImplementation() implementation { return implGo }

func (c *Cipher) crypt(dst, src []byte, sector uint64, decrypt bool) {
	c.cryptGo(dst, src, sector, decrypt)
}
