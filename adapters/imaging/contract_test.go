package imaging_test

import (
	"testing"

	"github.com/cloudpost/cloudpost/adapters/imaging"
	"github.com/cloudpost/cloudpost/ports/porttest"
)

func TestImagesContract(t *testing.T) {
	porttest.RunImages(t, imaging.New(imaging.Config{}))
}
