package zoo_test

import (
	"fmt"

	"github.com/edgefit/edgefit/supernet/zoo"
)

func ExampleLookup() {
	it, err := zoo.Lookup(zoo.LUTNote10)
	if err != nil {
		panic(err)
	}
	var o zoo.Options
	o.BaseURL = "https://mirror.example/ofa-files/"
	for _, f := range it.Files[:2] {
		fmt.Println(f.Name, f.Size, o.URL(f))
	}
	// Output:
	// note10/160_lookup_table.yaml 15088 https://mirror.example/ofa-files/ofa/note10/160_lookup_table.yaml
	// note10/176_lookup_table.yaml 15047 https://mirror.example/ofa-files/ofa/note10/176_lookup_table.yaml
}
