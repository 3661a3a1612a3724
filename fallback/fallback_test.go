package fallback_test

import (
	"testing"

	"github.com/cvv-project/cvv"
	"github.com/cvv-project/cvv/enginetest"
	"github.com/cvv-project/cvv/fallback"
)

func TestConformance(t *testing.T) {
	enginetest.Run(t, func(t *testing.T, opts cvv.Options) cvv.Engine { return fallback.New(opts) })
}
